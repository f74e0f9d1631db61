"""The drivers' tool runners: concurrency cap, timeouts, late results for the kernel or ledger."""

from __future__ import annotations

import threading
from typing import Any

import anyio
import pytest

from adapters.openai._tools import ToolRunner, run_tools_async, run_tools_sync
from lifecycle import CallState, ToolCall, ToolLedger, ToolRegistry
from lifecycle._dispatch import Prepared
from lifecycle.kernel import RunTools, ToolResult
from tests.controller.conftest import PRICES, Item, MakeDriver


def setup() -> tuple[ToolRegistry, ToolLedger, threading.Event, list[Prepared]]:
    reg = ToolRegistry()
    release = threading.Event()

    @reg.tool
    def slow(x: int) -> int:
        """Wait for the test to release it."""
        release.wait(10)
        return x * 2

    @reg.tool
    def fast(x: int) -> int:
        """Return at once."""
        return x + 1

    ledger = ToolLedger()
    prepared = []
    for cid, name in (("c_slow", "slow"), ("c_fast", "fast")):
        call = ToolCall(cid, name, '{"x": 5}')
        ledger.intend(call)
        ledger.claim(cid)
        prepared.append(reg.prepare(call))
    return reg, ledger, release, prepared


def check(results: list[ToolResult], ledger: ToolLedger) -> None:
    slow, fast = results
    assert slow.timed_out
    assert slow.output.error == "tool_timeout"
    assert not fast.timed_out
    assert fast.output.output == "6"
    for r in results:
        ledger.record(r.output, executed=r.executed, timed_out=r.timed_out)
    assert ledger.state_of("c_slow") is CallState.TIMED_OUT
    ledger.delivered(["c_slow", "c_fast"])


def _wait_late(runner: ToolRunner) -> tuple[Any, ...]:
    for _ in range(500):
        late = runner.drain()
        if late:
            return late
        threading.Event().wait(0.01)
    raise AssertionError("no late result")


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_timed_out_sync_tool_reports_its_late_result_for_the_next_reply(kind: str) -> None:
    """A thread past the budget runs on; its real result is kept for the kernel's next reply,
    and the ledger records it executed_undelivered."""
    reg, ledger, release, prepared = setup()
    runner = ToolRunner(reg, None)
    request = RunTools(tuple(prepared), 0.1, 2)
    if kind == "sync":
        results = run_tools_sync(request, runner)
    else:

        async def main() -> list[ToolResult]:
            return await run_tools_async(request, runner)

        results = anyio.run(main)
    check(results, ledger)
    assert runner.drain() == ()
    release.set()
    (late,) = _wait_late(runner)
    ledger.record_late(late)
    entry = ledger.entries["c_slow"]
    assert entry.state is CallState.EXECUTED_UNDELIVERED
    assert entry.reason == "late"
    assert entry.late_output == "10"


def test_after_the_drive_late_results_go_straight_to_the_ledger() -> None:
    """Once the drive handed over, a late result lands in the ledger without a reply."""
    reg, ledger, release, prepared = setup()
    runner = ToolRunner(reg, None)
    check(run_tools_sync(RunTools(tuple(prepared), 0.1, 2), runner), ledger)
    landed = threading.Event()

    def sink(output: Any) -> None:
        ledger.record_late(output)
        landed.set()

    runner.hand_over(sink)
    release.set()
    assert landed.wait(5)
    assert ledger.entries["c_slow"].state is CallState.EXECUTED_UNDELIVERED


def test_outputs_are_redacted_by_the_runner() -> None:
    """The controller's redaction (its own key) applies to every output the runner formats."""
    reg = ToolRegistry()

    @reg.tool
    def leak() -> str:
        """Return a secret."""
        return "key=CUSTOMKEY123456"

    runner = ToolRunner(reg, lambda text: text.replace("CUSTOMKEY123456", "[redacted]"))
    (result,) = run_tools_sync(
        RunTools((reg.prepare(ToolCall("c", "leak", "{}")),), 5.0, 1), runner
    )
    assert "CUSTOMKEY123456" not in result.output.output
    assert "CUSTOMKEY123456" not in result.output.full_output


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_concurrency_cap_is_respected(kind: str) -> None:
    """With a cap of 1, two tools never overlap."""
    reg = ToolRegistry()
    active: list[int] = []
    peak: list[int] = []
    lock = threading.Lock()

    @reg.tool
    def work(x: int) -> int:
        """Track overlap."""
        with lock:
            active.append(x)
            peak.append(len(active))
        threading.Event().wait(0.005)
        with lock:
            active.remove(x)
        return x

    items = tuple(reg.prepare(ToolCall(f"c{i}", "work", f'{{"x": {i}}}')) for i in range(6))
    runner = ToolRunner(reg, None)
    if kind == "sync":
        results = run_tools_sync(RunTools(items, 5.0, 1), runner)
    else:

        async def main() -> list[ToolResult]:
            return await run_tools_async(RunTools(items, 5.0, 1), runner)

        results = anyio.run(main)
    assert [r.output.output for r in results] == [str(i) for i in range(6)]
    assert max(peak) == 1


class OrderDesk:
    """A tool with state (its own price list and a count of what it priced), as an object."""

    def __init__(self) -> None:
        self.priced = 0

    def __call__(self, items: list[Item]) -> float:
        """Compute the total price of an order.

        Args:
            items: the items ordered, each an item type and a quantity.
        """
        self.priced += 1
        return sum(PRICES[i.item_type] * i.quantity for i in items)


class AsyncOrderDesk(OrderDesk):
    async def __call__(self, items: list[Item]) -> float:  # type: ignore[override]
        return super().__call__(items)


@pytest.mark.parametrize("desk", [OrderDesk, AsyncOrderDesk])
def test_a_tool_with_state_runs_once_through_the_controller(
    make_driver: MakeDriver, desk: type[OrderDesk]
) -> None:
    """An object registered as a tool (sync or async ``__call__``) is run once per call by the
    sync and the async controller over HTTP, and its output is delivered."""
    tool = desk()
    registry = ToolRegistry()
    registry.register(tool, name="calculate_order_total")
    out = make_driver(tools=registry).run("order-total")
    assert out.status == "completed"
    assert tool.priced == 1
    assert [(t.name, t.state) for t in out.tool_calls] == [("calculate_order_total", "delivered")]
