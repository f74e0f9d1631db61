"""Matrix rows about crashes and restarts (S29-S32) and the async dispatch race (S33).

S29-S32 drive the durable controller (``store=RunStore(...)``, named crash points raising
``adapters.openai.CrashPoint``, and ``recover()`` in a second controller over the same store file,
standing in for the restarted process). The store itself (``adapters.store``) is tested in
``tests/test_store.py``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from adapters.openai import CrashPoint
from adapters.simulator import Answer, CallTools, Queue, Scenario, ToolCallSpec, Work
from adapters.store import EffectPhase, RunStore
from lifecycle import CallState, ToolRegistry
from tests.faults.harness import Effects, World, charge_tools, one_charge_scenario


def _crash_then_recover(
    world: World, tmp_path: Path, name: str, crash_at: str
) -> tuple[Effects, RunStore, str, Any]:
    effects = Effects()
    tools = charge_tools(effects)
    meta = one_charge_scenario(world, name)
    thread = world.thread()
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    first = world.controller(tools, store=store, crash_at=crash_at)
    with pytest.raises(CrashPoint):
        first.run(thread_id=thread, assistant_id=world.assistant_id, metadata=meta)
    store.close()
    store = RunStore(tmp_path / "runs.db", clock=world.clock)  # the restarted process
    second = world.controller(tools, store=store)
    outcomes = second.recover()
    return effects, store, thread, outcomes


def test_s29_crash_after_the_effect_before_finished_is_an_unknown_effect(
    world: World, tmp_path: Path
) -> None:
    """S29: crash after the side effect, before 'finished': not re-run; unknown_effect reported."""
    effects, store, _, outcomes = _crash_then_recover(world, tmp_path, "s29", "after_tool_effect")
    (outcome,) = outcomes
    assert effects.count == {"s29": 1}  # <= 1 effect (I1)
    (call,) = outcome.tool_calls
    assert call.state == "unknown_effect"
    assert store.unknown_effects(outcome.run_id) == [call.id]


def test_s30_crash_after_finished_before_submit_submits_the_recorded_output(
    world: World, tmp_path: Path
) -> None:
    """S30: crash after 'finished' is recorded, before submit: on restart the recorded output is
    submitted (the run still requires_action); 0 re-executions, 1 delivery."""
    effects, store, _, outcomes = _crash_then_recover(world, tmp_path, "s30", "before_submit")
    (outcome,) = outcomes
    assert outcome.status == "completed"
    assert effects.count == {"s30": 1}
    assert len(world.sim.tool_outputs(outcome.run_id)) == 1
    assert [e.phase for e in store.effects(outcome.run_id)] == [
        EffectPhase.STARTED,
        EffectPhase.FINISHED,
    ]


def test_s31_crash_after_submit_sent_marks_it_delivered_on_restart(
    world: World, tmp_path: Path
) -> None:
    """S31: submit sent, response lost in the crash: on restart the run moved on -> delivered."""
    effects, _, _, outcomes = _crash_then_recover(world, tmp_path, "s31", "after_submit_sent")
    (outcome,) = outcomes
    assert outcome.status == "completed"
    assert effects.count == {"s31": 1}
    assert len(world.sim.tool_outputs(outcome.run_id)) == 1  # 1 logical submission
    assert [t.state for t in outcome.tool_calls] == [CallState.DELIVERED]


def test_s32_crash_after_create_sent_adopts_the_run_by_op_id(world: World, tmp_path: Path) -> None:
    """S32: create sent, run id not saved: on restart the run is found by op_id and adopted."""
    effects, store, thread, outcomes = _crash_then_recover(
        world, tmp_path, "s32", "after_create_sent"
    )
    (outcome,) = outcomes
    assert world.runs_on(thread) == [outcome.run_id]  # no orphan, no duplicate
    assert outcome.status == "completed"
    assert store.unbound_creates() == []
    assert effects.count == {"s32": 1}


def test_restart_with_a_vanished_run_reports_lost_handle(world: World, tmp_path: Path) -> None:
    """F21: a pending run that is gone (404) on restart is reported lost_handle, not recreated."""
    store = RunStore(tmp_path / "runs.db", clock=world.clock)
    from lifecycle import RunLifecycle

    thread = world.thread()
    store.save("run_gone", thread_id=thread, lifecycle=RunLifecycle())
    (outcome,) = world.controller(store=store).recover()
    assert outcome.status == "lost_handle"
    assert world.runs_on(thread) == []
    assert store.pending() == []


def test_s33_status_moves_while_async_tools_await_do_not_cancel_them(world: World) -> None:
    """S33: the run moves (server side) while async tools are awaiting: no tool task is
    cancelled; every started call is finished in the ledger."""
    effects = Effects()
    tools = ToolRegistry()
    moved: list[str] = []

    @tools.tool
    async def fetch(order: str) -> str:
        """An async tool that yields to the loop many times."""
        effects.hit(order)
        for _ in range(20):
            await asyncio.sleep(0)
        # meanwhile the server side moves on (here: the clock runs, a poll elsewhere reads it)
        world.clock.advance(0.001)
        moved.append(order)
        return f"fetched {order}"

    calls = tuple(ToolCallSpec.of("fetch", {"order": f"o{i}"}) for i in range(4))
    meta = world.scenario("s33", Scenario((Queue(), CallTools(calls), Work(), Answer("{outputs}"))))

    async def main() -> Any:
        async with world.async_client() as client:
            controller = world.async_controller(client, tools)
            return await controller.run(
                thread_id=world.thread(), assistant_id=world.assistant_id, metadata=meta
            )

    out = asyncio.run(main())
    assert out.status == "completed"
    assert sorted(moved) == ["o0", "o1", "o2", "o3"]  # every task ran to its end
    assert effects.total == 4
    assert {t.state for t in out.tool_calls} == {CallState.DELIVERED}
