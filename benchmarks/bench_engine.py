"""Engine benchmarks: what the lifecycle core costs on top of a bare ``transitions`` machine.

Measures, in one process (ratios are what matter; absolute numbers are machine-specific):

1. ``observe()`` of a legal one-edge change vs a bare ``transitions`` trigger of the same edge
   (a ``Machine(model=None, auto_transitions=False)`` and ``events[name].trigger(obj)``, the
   cheapest correct way to use ``transitions``). Target: <= 1.3x.
2. Attach cost: constructing run #1 vs run #100,000 while the earlier runs stay alive.
   Target: <= 2x (``add_model`` would grow linearly).
3. Memory: tracemalloc bytes per tracked run holding a 5-entry journal, at 100,000 runs.
   Target: <= 2 KB.

Method: GC disabled in timed regions (as timeit does), interleaved repeats, medians with ranges.
Usage: ``python benchmarks/bench_engine.py [--quick] [--out benchmarks/results/engine.json]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from transitions import Machine

from benchmarks._common import environment, write_result
from lifecycle import ASSISTANTS_RUN, RunLifecycle, ToolCall

NS = time.perf_counter_ns

# one tool round: the edges of a typical run, as (trigger, status) pairs
TRACE = [
    ("start", "in_progress"),
    ("require_action", "requires_action"),
    ("submit_tool_outputs", "queued"),
    ("start", "in_progress"),
    ("complete", "completed"),
]
CALLS = (ToolCall("call_1", "calculate_order_total", "{}"),)


class BareModel:
    __slots__ = ("state",)

    def __init__(self) -> None:
        self.state = "queued"


def bare_machine() -> Machine:
    """The same table as a bare ``transitions`` machine with no guards and no callbacks."""
    return Machine(
        model=None,
        states=[s.value for s in ASSISTANTS_RUN.states],
        transitions=[
            {"trigger": e.trigger, "source": e.source, "dest": e.dest} for e in ASSISTANTS_RUN.edges
        ],
        initial="queued",
        auto_transitions=False,
    )


def per_transition_ns(runs: int, repeats: int) -> dict[str, Any]:
    machine = bare_machine()
    events = machine.events

    def bare() -> int:
        models = [BareModel() for _ in range(runs)]
        t0 = NS()
        for m in models:
            for trig, _ in TRACE:
                events[trig].trigger(m)
        return NS() - t0

    def engine() -> int:
        lifecycles = [RunLifecycle() for _ in range(runs)]
        t0 = NS()
        for lc in lifecycles:
            lc.observe("in_progress", via="stream", at=1.0)
            lc.observe("requires_action", via="stream", at=2.0, tool_calls=CALLS)
            lc.record_submission(["call_1"])
            lc.observe("queued", via="client", at=3.0)
            lc.observe("in_progress", via="stream", at=4.0)
            lc.observe("completed", via="stream", at=5.0)
        return NS() - t0

    def bare_one() -> int:
        models = [BareModel() for _ in range(runs)]
        start = events["start"]
        t0 = NS()
        for m in models:
            start.trigger(m)
        return NS() - t0

    def engine_one() -> int:
        lifecycles = [RunLifecycle() for _ in range(runs)]
        t0 = NS()
        for lc in lifecycles:
            lc.observe("in_progress", via="stream", at=1.0)
        return NS() - t0

    samples: dict[str, list[float]] = {
        "bare_transitions": [],
        "observe": [],
        "bare_transitions_trace": [],
        "observe_trace": [],
    }
    bare()
    engine()  # warm-up
    for _ in range(repeats):
        gc.disable()
        try:
            samples["bare_transitions"].append(bare_one() / runs)
            samples["observe"].append(engine_one() / runs)
            samples["bare_transitions_trace"].append(bare() / (runs * len(TRACE)))
            samples["observe_trace"].append(engine() / (runs * len(TRACE)))
        finally:
            gc.enable()
    med = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "ns_per_transition": {
            k: {"median": med[k], "min": min(v), "max": max(v)} for k, v in samples.items()
        },
        # a legal one-edge change (queued -> in_progress), the common case of a poll or event
        "ratio_observe_vs_bare": med["observe"] / med["bare_transitions"],
        # a whole tool round: includes the submit guard, the dispatch command and tool-call
        # bookkeeping that a bare trigger does not do
        "ratio_trace_observe_vs_bare": med["observe_trace"] / med["bare_transitions_trace"],
        "target_ratio": 1.3,
        "runs_per_repeat": runs,
        "repeats": repeats,
    }


def attach_cost(total: int, batch: int) -> dict[str, Any]:
    """Time to create `batch` runs at the start, and again after `total` runs exist."""
    keep: list[RunLifecycle] = []

    def timed_batch() -> float:
        gc.disable()
        try:
            t0 = NS()
            for _ in range(batch):
                keep.append(RunLifecycle())
            return (NS() - t0) / batch
        finally:
            gc.enable()

    RunLifecycle()  # build the shared machine first
    first = [timed_batch() for _ in range(3)]
    while len(keep) < total:
        keep.extend(RunLifecycle() for _ in range(min(10_000, total - len(keep))))
    last = [timed_batch() for _ in range(3)]
    return {
        "ns_per_attach_first": statistics.median(first),
        "ns_per_attach_at_n": statistics.median(last),
        "n": total,
        "ratio": statistics.median(last) / statistics.median(first),
        "target_ratio": 2.0,
    }


def memory_per_run(n: int) -> dict[str, Any]:
    """tracemalloc bytes per live run with a 5-entry journal (one tool round)."""
    RunLifecycle()
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    runs = []
    for i in range(n):
        lc = RunLifecycle()
        at = float(i)
        lc.observe("in_progress", via="stream", at=at)
        lc.observe("requires_action", via="stream", at=at, tool_calls=CALLS)
        lc.record_submission(["call_1"])
        lc.observe("queued", via="client", at=at)
        lc.observe("in_progress", via="stream", at=at)
        lc.observe("completed", via="stream", at=at)
        lc.take_commands()
        runs.append(lc)
    assert all(len(r.history) == 5 for r in runs)
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(s.size_diff for s in after.compare_to(base, "filename"))
    return {"n": n, "bytes_per_run": total / n, "target_bytes": 2048}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine.json"))
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else 100_000
    result = {
        "benchmark": "engine",
        "environment": environment(),
        "observe_vs_transitions": per_transition_ns(
            runs=500 if args.quick else 2_000, repeats=5 if args.quick else 9
        ),
        "attach": attach_cost(total=n, batch=1_000),
        "memory": memory_per_run(n),
    }
    write_result(args.out, result)
    o, a, m = result["observe_vs_transitions"], result["attach"], result["memory"]
    print(
        f"observe {o['ns_per_transition']['observe']['median'] / 1000:.2f} us vs bare "
        f"{o['ns_per_transition']['bare_transitions']['median'] / 1000:.2f} us "
        f"(x{o['ratio_observe_vs_bare']:.2f}, target <= 1.3); whole tool round "
        f"x{o['ratio_trace_observe_vs_bare']:.2f}\n"
        f"attach run #1 {a['ns_per_attach_first'] / 1000:.2f} us vs #{a['n']:,} "
        f"{a['ns_per_attach_at_n'] / 1000:.2f} us (x{a['ratio']:.2f}, target <= 2)\n"
        f"memory {m['bytes_per_run']:.0f} B per run at {m['n']:,} (target <= 2048)\n"
        f"-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
