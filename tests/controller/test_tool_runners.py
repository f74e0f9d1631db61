"""The drivers' tool runners: concurrency cap, timeouts, and late results reaching the ledger."""

from __future__ import annotations

import threading
from typing import Any

import anyio

from adapters.openai._async import run_tools_async
from adapters.openai._io import RunTools
from adapters.openai._sync import run_tools_sync
from lifecycle import CallState, Prepared, ToolCall, ToolLedger, ToolRegistry


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


def late_recorder(reg: ToolRegistry, ledger: ToolLedger, done: threading.Event) -> Any:
    def on_late(p: Prepared, value: Any, error: BaseException | None) -> None:
        ledger.record_late(reg.finish(p.call, value, error=error))
        done.set()

    return on_late


def check(results: Any, reg: ToolRegistry, ledger: ToolLedger) -> None:
    slow, fast = results
    assert slow.timed_out
    assert not fast.timed_out
    assert fast.value == 6
    for r in results:
        out = reg.finish(r.prepared.call, r.value, error=r.error, timed_out=r.timed_out)
        ledger.record(out, executed=True, timed_out=r.timed_out)
    assert ledger.state_of("c_slow") is CallState.TIMED_OUT
    ledger.delivered(["c_slow", "c_fast"])


def test_sync_runner_times_out_and_records_the_late_result() -> None:
    """A thread past the timeout is left running; its result lands as executed_undelivered."""
    reg, ledger, release, prepared = setup()
    done = threading.Event()
    results = run_tools_sync(RunTools(tuple(prepared), 0.1, 2, late_recorder(reg, ledger, done)))
    check(results, reg, ledger)
    release.set()
    assert done.wait(5)
    entry = ledger.entries["c_slow"]
    assert entry.state is CallState.EXECUTED_UNDELIVERED
    assert entry.late_output == "10"


def test_async_runner_times_out_and_records_the_late_result_of_a_sync_tool() -> None:
    """The async driver runs sync tools in threads and records their late results too."""
    reg, ledger, release, prepared = setup()
    done = threading.Event()

    async def main() -> Any:
        return await run_tools_async(
            RunTools(tuple(prepared), 0.1, 2, late_recorder(reg, ledger, done))
        )

    results = anyio.run(main)
    check(results, reg, ledger)
    release.set()
    assert done.wait(5)
    assert ledger.entries["c_slow"].state is CallState.EXECUTED_UNDELIVERED


def test_concurrency_cap_is_respected() -> None:
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
        with lock:
            active.remove(x)
        return x

    items = tuple(reg.prepare(ToolCall(f"c{i}", "work", f'{{"x": {i}}}')) for i in range(6))
    results = run_tools_sync(RunTools(items, 5.0, 1, lambda *a: None))
    assert [r.value for r in results] == list(range(6))
    assert max(peak) == 1
