"""The public controller API as the README and docs use it, with its types pinned.

``mypy tests/typing`` fails when a public signature of ``adapters.openai`` (or the kernel names it
re-exports) changes type; pytest runs the same code against the in-process simulator, so the
documented calls keep working at run time. Only names from ``adapters.openai``,
``adapters.simulator``, ``adapters.store``, ``lifecycle`` and ``lifecycle.kernel`` are used.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import assert_type

import anyio
import openai
import pytest

from adapters.openai import (
    CRASH_POINTS,
    AsyncRunController,
    CancelToken,
    ControllerConfig,
    CrashPoint,
    Ending,
    EndingKind,
    RetryPolicy,
    RunController,
    RunEvent,
    RunFinished,
    RunOutcome,
    StatusChanged,
    ThreadBusy,
    ToolCallRecord,
)
from adapters.openai._wire import assistants_quiet
from adapters.simulator import Simulator
from adapters.store import RunStore
from lifecycle import Anomaly, JournalEntry, PollTimeout, RunFailed, ToolLedger, ToolRegistry
from lifecycle.kernel import AssistantsBinding, Drive, Reply, Request

BASE = "http://simulator.local/v1"


def _tools() -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool
    def calculate_order_total(items: list[dict[str, object]]) -> float:
        """Price an order."""
        return float(len(items))

    return tools


def _thread(client: openai.OpenAI) -> tuple[str, str]:
    with assistants_quiet():
        assistant = client.beta.assistants.create(model="m")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "Total?"}])
    return thread.id, assistant.id


def test_the_sync_controller_and_its_outcome() -> None:
    """``RunController(client, tools=..., config=ControllerConfig(...), store=...)`` and every
    documented field of the outcome."""
    with Simulator() as sim, RunStore(":memory:") as store:
        client = openai.OpenAI(
            base_url=BASE, api_key="sk-sim-typing", http_client=sim.http_client()
        )
        config = ControllerConfig(poll_interval_s=0.5, retry=RetryPolicy(max_attempts=3))
        controller = RunController(client, tools=_tools(), config=config, store=store)
        thread_id, assistant_id = _thread(client)
        token = CancelToken()
        outcome = controller.run(
            thread_id=thread_id,
            assistant_id=assistant_id,
            cancel_token=token,
            on_active_run="fail",
            metadata={"scenario": "order-total"},
        )
        assert_type(outcome, RunOutcome)
        assert_type(outcome.status, str)
        assert_type(outcome.ending, Ending)
        assert_type(outcome.ending.kind, EndingKind)
        assert_type(outcome.run_id, str)
        assert_type(outcome.thread_id, str)
        assert_type(outcome.history, tuple[JournalEntry, ...])
        assert_type(outcome.anomalies, tuple[Anomaly, ...])
        assert_type(outcome.tool_calls, tuple[ToolCallRecord, ...])
        assert_type(outcome.deadline, str | None)
        assert_type(outcome.abandoned, str | None)
        assert_type(outcome.cancel_unconfirmed, bool)
        assert_type(outcome.unknown_effects, tuple[str, ...])
        assert_type(outcome.ledger, ToolLedger)
        assert_type(outcome.text, str)
        assert_type(outcome.ok, bool)
        assert_type(outcome.raise_for_status(), RunOutcome)
        assert outcome.ok
        assert outcome.ending.kind is EndingKind.TERMINAL
        assert_type(controller.recover(), list[RunOutcome])
        assert_type(controller.drive(thread_id=thread_id, run_id=outcome.run_id), RunOutcome)
        events = controller.events(thread_id=thread_id, run_id=outcome.run_id)
        assert_type(events, Iterator[RunEvent])
        assert isinstance(list(events)[-1], RunFinished)
        wrong = openai.AsyncOpenAI(base_url=BASE, api_key="sk-sim-typing")
        with pytest.raises(TypeError, match=r"RunController needs an openai\.OpenAI client"):
            RunController(wrong)  # type: ignore[arg-type]  # mypy says so too
        client.close()


def test_the_async_controller_twin() -> None:
    """``AsyncRunController`` has the same surface, awaited."""

    async def main() -> None:
        with Simulator() as sim:
            http = sim.async_http_client()
            async with openai.AsyncOpenAI(base_url=BASE, api_key="sk-sim-t", http_client=http) as c:
                with assistants_quiet():
                    assistant = await c.beta.assistants.create(model="m")
                    thread = await c.beta.threads.create()
                controller = AsyncRunController(c, tools=_tools(), config=ControllerConfig())
                outcome = await controller.run(
                    thread_id=thread.id,
                    assistant_id=assistant.id,
                    metadata={"scenario": "fails"},
                )
                assert_type(outcome, RunOutcome)
                assert outcome.status == "failed"
                with pytest.raises(RunFailed):
                    outcome.raise_for_status()
                events = controller.events(thread_id=thread.id, run_id=outcome.run_id)
                assert_type(events, AsyncIterator[RunEvent])
                seen = [e async for e in events]
                assert isinstance(seen[-1], RunFinished)
                assert all(isinstance(e, StatusChanged | RunFinished) for e in seen)

    anyio.run(main)


def test_the_errors_users_catch() -> None:
    """``ThreadBusy`` (a LifecycleError), ``CrashPoint`` (a BaseException), the crash points,
    ``PollTimeout`` from ``raise_for_status``."""
    assert_type(CRASH_POINTS, frozenset[str])
    assert "before_submit" in CRASH_POINTS
    busy = ThreadBusy("thread_1", None, "pending in the store")
    assert_type(busy.thread_id, str)
    assert_type(busy.run_id, str | None)
    crash = CrashPoint("before_submit")
    assert_type(crash.point, str)
    assert not isinstance(crash, Exception)
    assert issubclass(PollTimeout, Exception)


def test_the_kernel_is_pumpable_by_anyone() -> None:
    """A custom driver (a Temporal workflow, a test) builds a Drive and pumps its generator."""
    drive = Drive(
        AssistantsBinding(),
        config=ControllerConfig(),
        scope="thread_1",
        run_id="run_1",
        now=0.0,
        wall=0.0,
    )
    flow = drive.attach()
    first = next(flow)
    assert_type(first, Request)
    assert_type(Reply(None, None, 0.0, 0.0), Reply)
    flow.close()
