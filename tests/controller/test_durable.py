"""Durable restart, thread hygiene and output redaction beyond the matrix rows (issue 6).

The matrix rows themselves are in ``tests/faults``; these pin the API's other branches: the async
twin of recovery, the ``adopt``/``fail`` policies, an intent that never got in, a repeated
recovery, the local refusal backed by the store, and redaction of a key of any shape.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import openai
import pytest

from adapters.openai import CrashPoint, RunController, ThreadBusy
from adapters.openai._wire import assistants_quiet
from adapters.simulator import Answer, CallTools, Queue, Scenario, ToolCallSpec, Work
from adapters.store import RunStore
from lifecycle import CallState, RunLifecycle, ToolRegistry
from tests.faults.harness import Effects, World, charge_tools, iter_text, one_charge_scenario


@pytest.fixture
def world() -> Any:
    """A served simulator on a manual clock (see ``tests/faults/harness.py``)."""
    with World() as w:
        yield w


def test_async_recover_submits_the_recorded_output_once(world: World, tmp_path: Path) -> None:
    """The async twin: crash before submit, recover() submits the recorded output, no re-run."""
    effects = Effects()
    tools = charge_tools(effects)
    meta = one_charge_scenario(world, "a30")
    thread = world.thread()

    async def main() -> Any:
        async with world.async_client() as client:
            store = RunStore(tmp_path / "runs.db", clock=world.clock)
            first = world.async_controller(client, tools, store=store, crash_at="before_submit")
            with pytest.raises(CrashPoint):
                await first.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
            store.close()
            store = RunStore(tmp_path / "runs.db", clock=world.clock)
            return await world.async_controller(client, tools, store=store).recover()

    (out,) = asyncio.run(main())
    assert out.status == "completed"
    assert effects.count == {"a30": 1}
    assert len(world.sim.tool_outputs(out.run_id)) == 1
    assert [t.state for t in out.tool_calls] == [CallState.DELIVERED]


def test_an_unknown_effect_is_never_rerun_by_a_second_recovery(
    world: World, tmp_path: Path
) -> None:
    """Recovering twice reports the unknown effect twice, runs it never, and the thread stays
    refused locally (the store still holds the run as pending)."""
    effects = Effects()
    tools = charge_tools(effects)
    meta = one_charge_scenario(world, "u29")
    thread = world.thread()
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    with pytest.raises(CrashPoint):
        world.controller(tools, store=store, crash_at="after_tool_effect").run(
            thread_id=thread, assistant_id=world.assistant_id, metadata=meta
        )
    for _ in range(2):
        (out,) = world.controller(tools, store=store).recover()
        assert out.status == "requires_action"
        assert out.unknown_effects == tuple(t.id for t in out.tool_calls)
        assert [t.state for t in out.tool_calls] == ["unknown_effect"]
    assert effects.count == {"u29": 1}
    assert world.sim.tool_outputs(out.run_id) == []  # nothing answered on our behalf
    creates = world.count("POST", "/v1/threads/*/runs")
    with pytest.raises(ThreadBusy, match="active run"):
        world.controller(tools, store=store).run(
            thread_id=thread, assistant_id=world.assistant_id, metadata=meta
        )
    assert world.count("POST", "/v1/threads/*/runs") == creates


def test_an_intent_that_never_got_in_is_reported_not_created(world: World, tmp_path: Path) -> None:
    """An unbound create whose op_id no run carries: ``not_created``, the intent is closed."""
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    thread = world.thread()
    store.begin_create("op-never-sent", thread)
    (out,) = world.controller(store=store).recover()
    assert out.status == "not_created"
    assert store.unbound_creates() == []
    assert world.runs_on(thread) == []


def test_recover_needs_a_store(world: World) -> None:
    """recover() without a store is a usage error; so is an unknown crash point."""
    with pytest.raises(RuntimeError, match="store"):
        world.controller().recover()
    with pytest.raises(ValueError, match="crash point"):
        world.controller(crash_at="nowhere")


def _orphan(world: World, thread: str) -> str:
    meta = world.scenario("orphan", Scenario((Queue(), Work(5.0), Answer("orphan answer"))))
    with assistants_quiet():
        return world.api.beta.threads.runs.create(
            thread_id=thread, assistant_id=world.assistant_id, metadata=meta
        ).id


def test_adopt_policy_drives_the_active_run_instead_of_creating(world: World) -> None:
    """``on_active_run="adopt"``: the server's 400 leads to the orphan being followed to its end;
    no second run is created."""
    thread = world.thread()
    orphan = _orphan(world, thread)
    meta = world.scenario("mine", Scenario((Queue(), Answer("mine"))))
    out = world.controller().run(
        thread_id=thread, assistant_id=world.assistant_id, metadata=meta, on_active_run="adopt"
    )
    assert out.run_id == orphan
    assert out.status == "completed"
    assert world.runs_on(thread) == [orphan]


def test_fail_policy_raises_thread_busy_and_closes_the_intent(world: World, tmp_path: Path) -> None:
    """The default policy ``fail``: ThreadBusy names the active run; the orphan is untouched and
    the create intent is closed (the server refused it: no run exists for it)."""
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    thread = world.thread()
    orphan = _orphan(world, thread)
    meta = world.scenario("mine", Scenario((Queue(), Answer("mine"))))
    controller = world.controller(store=store)
    with pytest.raises(ThreadBusy) as info:
        controller.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    assert info.value.run_id == orphan
    assert world.count("POST", "/v1/threads/*/runs/*/cancel") == 0
    assert store.unbound_creates() == []
    # the controller did not mark the thread: once the orphan is gone, run() works again
    world.clock.advance(10.0)
    assert controller.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta).ok


def test_the_clients_own_key_is_redacted_whatever_its_shape(world: World) -> None:
    """A key without the ``sk-`` shape is still removed from outputs (by its exact value), and
    the outcome's repr shows no message text."""
    key = "plainKEY-0123456789-abcdefghij"
    tools = ToolRegistry()

    @tools.tool
    def echo(order: str) -> str:
        """Returns a text that embeds the client's key."""
        return f"debug dump: {key} for {order}"

    call = ToolCallSpec.of("echo", {"order": "o1"})
    meta = world.scenario("key", Scenario((Queue(), CallTools((call,)), Answer("{output}"))))
    client = openai.OpenAI(base_url=world.server.base_url, api_key=key, max_retries=0)
    try:
        controller = RunController(
            client,
            tools=tools,
            config=world.config(),
            sleep=world.sleep,
            clock=world.clock,
            wall_clock=world.clock,
        )
        out = controller.run(
            thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
        )
    finally:
        client.close()
    assert out.status == "completed"
    submitted = [o.output for r in world.sim.tool_outputs(out.run_id) for o in r]
    assert submitted
    assert all(key not in s and "[redacted]" in s for s in submitted)
    assert all(key not in t for t in iter_text(out, out.to_json(), *out.tool_calls))
    assert out.text
    assert out.text not in repr(out)


def test_a_lost_handle_run_does_not_block_its_thread(world: World, tmp_path: Path) -> None:
    """After ``lost_handle`` the thread may be used again (the server has no such run)."""
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    thread = world.thread()
    store.save("run_gone", thread_id=thread, lifecycle=RunLifecycle())
    controller = world.controller(store=store)
    (lost,) = controller.recover()
    assert lost.status == "lost_handle"
    meta = world.scenario("after", Scenario((Queue(), Answer("fine"))))
    assert controller.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta).ok


def test_a_thread_held_by_an_unknown_create_names_the_way_out(world: World, tmp_path: Path) -> None:
    """run() on a thread whose create outcome is unknown is refused without a request, and the
    error says what settles it; after recover() (no run carries the op id) run() creates."""
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    thread = world.thread()
    store.begin_create("op-lost", thread)
    with pytest.raises(ThreadBusy, match=r"create whose outcome is unknown.*recover\(\) settles"):
        world.controller(store=store).run(thread_id=thread, assistant_id=world.assistant_id)
    assert world.runs_on(thread) == []
    (settled,) = world.controller(store=store).recover()
    assert settled.status == "not_created"
    out = world.controller(store=store).run(thread_id=thread, assistant_id=world.assistant_id)
    assert out.status == "completed"
