"""The workflow on the dev server, with an in-process worker and the simulator on loopback.

Each test drives a real run through Temporal (activities over the real ``openai`` client, timers,
signals, queries), checks the report against what the simulator received, and replays the
history it produced with the current code.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from temporalio.client import WorkflowFailureError
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

from adapters.simulator import (
    Answer,
    CallTools,
    Queue,
    Scenario,
    SimulatorServer,
    ToolCallSpec,
    Work,
)
from adapters.temporal import TemporalOptions, replayer
from tests.temporal.conftest import new_thread
from tests.temporal.helpers import in_process_worker, new_queue, record_history
from tests.temporal.tools import GATED_ORDER_TOOLS, ORDER_TOOLS, SALES, read_sales

Aio = Callable[[Awaitable[Any]], Any]

ANSWER = "The total price of your order is 135.0."


def test_an_assistants_run_completes_with_its_tool_run_once(
    aio: Aio, dev_env: Any, server: SimulatorServer, sync_client: openai.OpenAI
) -> None:
    """The order-total run: created, one tool round, completed; the queries agree with the
    result, and the history replays with the current code."""
    assistant, thread = new_thread(sync_client, "order-total", ORDER_TOOLS.definitions())

    async def go() -> tuple[Any, ...]:
        async with in_process_worker(dev_env.client, server, ORDER_TOOLS, new_queue("a")) as runs:
            handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
            report = await handle.result()
            queried = (await handle.state(), await handle.journal(), await handle.outcome())
            events = await handle.events()
            history = await handle.handle.fetch_history()
        await replayer(ORDER_TOOLS).replay_workflow(history)
        return report, queried, events, history

    report, (state, journal, outcome), events, history = aio(go())
    assert report.ok, report.ending_text
    assert report.text == ANSWER
    assert [(c["name"], c["state"], c["output"]) for c in report.tool_calls] == [
        ("calculate_order_total", "delivered", "135.0")
    ]
    submitted = server.sim.tool_outputs(report.run_id)
    assert [[o.output for o in r] for r in submitted] == [["135.0"]]
    assert state["done"]
    assert state["status"] == "completed"
    assert state["run_id"] == report.run_id
    assert journal == report.history
    assert outcome == report
    assert [e["type"] for e in events if e["type"].startswith("round")] == [
        "round_started",
        "round_finished",
    ]
    record_history("assistants_order_total", history)


def test_a_responses_chain_completes(aio: Aio, dev_env: Any, server: SimulatorServer) -> None:
    """A chain: the first background response asks for the tool, the next one answers."""

    async def go() -> tuple[Any, Any]:
        async with in_process_worker(dev_env.client, server, ORDER_TOOLS, new_queue("c")) as runs:
            handle = await runs.start_chain(model="gpt-4o-mini", input="total?")
            report = await handle.result()
            history = await handle.handle.fetch_history()
        await replayer(ORDER_TOOLS).replay_workflow(history)
        return report, history

    report, history = aio(go())
    assert report.ok, report.ending_text
    assert report.kind == "responses"
    assert len(report.object_ids) == 2
    assert report.text == ANSWER
    chain = server.sim.response_chain(report.run_id)
    assert len(chain) == 2
    record_history("responses_order_total", history)


def test_a_second_start_with_the_same_op_id_is_refused(
    aio: Aio, dev_env: Any, server: SimulatorServer, sync_client: openai.OpenAI
) -> None:
    """The workflow id derives from the op id: while the run is driven and after it ended."""
    assistant, thread = new_thread(sync_client, "order-total", ORDER_TOOLS.definitions())

    async def go() -> list[str]:
        refused = []
        async with in_process_worker(dev_env.client, server, ORDER_TOOLS, new_queue("d")) as runs:
            handle = await runs.start_run(thread_id=thread, assistant_id=assistant, op_id="op-dup")
            for _ in range(2):
                try:
                    await runs.start_run(thread_id=thread, assistant_id=assistant, op_id="op-dup")
                except WorkflowAlreadyStartedError as exc:
                    refused.append(type(exc).__name__)
                await handle.result()
            assert (await runs.get("op-dup").result()).ok
        return refused

    assert aio(go()) == ["WorkflowAlreadyStartedError"] * 2
    runs_created = [r for r in server.sim.runs.values() if r.thread_id == thread]
    assert len(runs_created) == 1


def test_the_cancel_signal_cancels_the_run(
    aio: Aio, dev_env: Any, server: SimulatorServer, sync_client: openai.OpenAI
) -> None:
    """A run that never finishes: the signal makes the drive send one cancel and follow it."""
    assistant, thread = new_thread(sync_client, "never-finishes", ORDER_TOOLS.definitions())

    async def go() -> tuple[Any, Any]:
        async with in_process_worker(dev_env.client, server, ORDER_TOOLS, new_queue("x")) as runs:
            handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
            for _ in range(200):
                if (await handle.state())["status"] == "in_progress":
                    break
                await asyncio.sleep(0.02)
            await handle.cancel()
            report = await handle.result()
            history = await handle.handle.fetch_history()
        await replayer(ORDER_TOOLS).replay_workflow(history)
        return report, history

    report, history = aio(go())
    assert report.status == "cancelled"
    assert report.ending == "terminal"
    assert report.cancel_requested
    assert not report.cancel_lost_race
    cancels = server.sim.request_count("POST", f"/v1/threads/{thread}/runs/*/cancel")
    assert cancels == 1
    record_history("assistants_cancelled", history)


def test_a_create_refused_for_good_fails_the_workflow(
    aio: Aio, dev_env: Any, server: SimulatorServer, sync_client: openai.OpenAI
) -> None:
    """No run exists: the workflow fails with a non-retryable CreateFailed."""
    _, thread = new_thread(sync_client, "order-total", ORDER_TOOLS.definitions())

    async def go() -> BaseException | None:
        async with in_process_worker(dev_env.client, server, ORDER_TOOLS, new_queue("f")) as runs:
            handle = await runs.start_run(thread_id=thread, assistant_id="asst_missing")
            try:
                await handle.result()
            except WorkflowFailureError as exc:
                return exc.cause
        return None

    cause = aio(go())
    assert isinstance(cause, ApplicationError)
    assert cause.type == "CreateFailed"
    assert "http_404" in str(cause)


SLOW_TWO_SALES = Scenario(
    (
        Queue(),
        Work(0.4),
        CallTools((ToolCallSpec.of("record_sale", {"order_id": "first"}),)),
        Queue(),
        Work(0.4),
        CallTools((ToolCallSpec.of("record_sale", {"order_id": "second"}),)),
        Answer("sold: {outputs}"),
    )
)


@pytest.mark.parametrize("kind", ["assistants", "responses"])
def test_long_runs_continue_as_new_and_never_rerun_a_tool(
    kind: str,
    aio: Aio,
    dev_env: Any,
    server: SimulatorServer,
    sync_client: openai.OpenAI,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a small history budget the workflow continues as new several times; the drive goes
    on from the carried snapshot and ledger: each tool ran once, each output was sent once."""
    log = tmp_path / "sales.log"
    monkeypatch.setenv("LIFECYCLE_SALES_LOG", str(log))
    server.sim.add_scenario("slow-two-sales", SLOW_TWO_SALES)
    options = TemporalOptions(continue_as_new_events=40)

    async def go() -> tuple[Any, Any]:
        queue = new_queue("can")
        async with in_process_worker(dev_env.client, server, SALES, queue, options=options) as runs:
            if kind == "assistants":
                assistant, thread = new_thread(sync_client, "slow-two-sales", SALES.definitions())
                handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
            else:
                handle = await runs.start_chain(
                    model="gpt-4o-mini", input="sell", metadata={"scenario": "slow-two-sales"}
                )
            report = await handle.result()
            history = await runs.client.get_workflow_handle(handle.workflow_id).fetch_history()
        await replayer(SALES).replay_workflow(history)
        return report, history

    report, history = aio(go())
    assert report.ok, report.ending_text
    assert report.continued >= 2, f"continued {report.continued} times: expected at least 2"
    assert report.text == "sold: sale first recorded, sale second recorded"
    assert [c["state"] for c in report.tool_calls] == ["delivered", "delivered"]
    assert [(phase, order) for phase, order, _ in read_sales(str(log))] == [
        ("start", "first"),
        ("end", "first"),
        ("start", "second"),
        ("end", "second"),
    ]
    if kind == "assistants":
        submitted = server.sim.tool_outputs(report.run_id)
        assert [[o.output for o in r] for r in submitted] == [
            ["sale first recorded"],
            ["sale second recorded"],
        ]
        assert [e["dest"] for e in report.history][-1] == "completed"
    else:
        assert len(report.object_ids) == 3
    if kind == "assistants":
        record_history("assistants_continued_last_run", history)
    assert os.path.exists(log)


def test_cancelling_the_workflow_interrupts_the_drive(
    aio: Aio, dev_env: Any, server: SimulatorServer, sync_client: openai.OpenAI
) -> None:
    """Temporal's own cancellation: one cancel for the live run, the drive ends interrupted."""
    assistant, thread = new_thread(sync_client, "never-finishes", ORDER_TOOLS.definitions())

    async def go() -> Any:
        async with in_process_worker(dev_env.client, server, ORDER_TOOLS, new_queue("i")) as runs:
            handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
            for _ in range(200):
                if (await handle.state())["status"] == "in_progress":
                    break
                await asyncio.sleep(0.02)
            await handle.handle.cancel()
            return await handle.result()

    report = aio(go())
    assert report.ending == "interrupted", report.ending_text
    assert report.cancel_requested
    cancels = server.sim.request_count("POST", f"/v1/threads/{thread}/runs/*/cancel")
    assert cancels == 1


@pytest.mark.parametrize("approved", [True, False])
def test_a_round_waits_durably_for_the_decide_signal(
    aio: Aio, dev_env: Any, server: SimulatorServer, approved: bool
) -> None:
    """A chain whose tool needs approval: the workflow waits (a durable condition, no polling)
    and says for what; the decide signal lets the tool run once, or answers the model with the
    rejection; the history replays."""

    async def go() -> tuple[Any, ...]:
        queue = new_queue("approve")
        async with in_process_worker(dev_env.client, server, GATED_ORDER_TOOLS, queue) as runs:
            handle = await runs.start_chain(model="gpt-4o-mini", input="total?")
            asking: list[dict[str, Any]] = []
            for _ in range(200):
                asking = await handle.awaiting_approval()
                if asking:
                    break
                await asyncio.sleep(0.05)
            requests_while_waiting = (await handle.state())["requests"]
            await asyncio.sleep(1.0)
            requests_later = (await handle.state())["requests"]
            await handle.decide(asking[0]["call_id"], approved=approved, reason="checked by Sam")
            report = await handle.result()
            history = await handle.handle.fetch_history()
        await replayer(GATED_ORDER_TOOLS).replay_workflow(history)
        return asking, requests_while_waiting, requests_later, report

    asking, before, after, report = aio(go())
    assert [(a["name"], a["kind"]) for a in asking] == [("calculate_order_total", "function")]
    assert after == before  # waiting for a person costs no requests
    assert report.ok, report.ending_text
    (call,) = report.tool_calls
    assert call["state"] == "delivered"
    chain = server.sim.response_chain(report.run_id)
    (sent,) = chain[1].outputs
    if approved:
        assert sent.output == "135.0"
    else:
        assert "checked by Sam" in sent.output
        assert "not_approved" in sent.output
