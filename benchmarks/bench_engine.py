"""Engine benchmarks: what the lifecycle core costs on top of a bare ``transitions`` machine.

Measures, in one process (ratios are what matter; absolute numbers are machine-specific):

1. ``observe()`` of a legal change vs a bare ``transitions`` trigger of the same edge, per kind of
   edge. The bare side is a ``Machine(model=None, auto_transitions=False, send_event=True)`` with
   the same states and ``model_attribute``, ``on_enter`` callbacks on the awaiting-client and
   terminal states that append to a list, and the submit guard as a plain condition; it fires
   with ``events[name].trigger(obj)``, the cheapest correct way to use ``transitions``. Kinds:

   * ``plain``: ``queued -> in_progress`` (an unguarded edge, nothing emitted);
   * ``awaiting``: ``in_progress -> requires_action`` with one tool call (emits ``DispatchTools``);
   * ``submit``: ``requires_action -> queued`` after ``record_submission`` (the guarded edge;
     the submission is recorded outside the timed region, as the bare side's context is);
   * ``terminal``: ``in_progress -> completed | failed | incomplete | expired`` (emits
     ``Finished``);
   * ``inferred``: a poll showing ``completed`` from ``queued`` (two edges, the first inferred)
     vs two bare triggers;
   * ``mix``: a whole streamed tool round (queued, in_progress, requires_action with a call,
     ``record_submission``, queued, in_progress, completed) vs the five bare triggers.

   Target: <= 1.3x for every kind and for the mix.
2. Attach cost: constructing run #1 vs run #100,000 while the earlier runs stay alive.
   Target: <= 2x (``add_model`` would grow linearly).
3. Memory: tracemalloc bytes per tracked run holding a 5-entry journal, at 100,000 runs.
   Target: <= 2 KB.

Method: each sample times one pass over a batch of objects already in the edge's source state
(built outside the timed region); GC disabled in timed regions (as timeit does); engine and
bare samples back to back, alternating which goes first; ratios of the medians and of the best
samples, with the range of the paired ratios (wide when other work shares the machine).
Usage: ``python benchmarks/bench_engine.py [--quick] [--out benchmarks/results/engine.json]``
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tracemalloc
from pathlib import Path
from typing import Any

from benchmarks._common import environment, write_result
from benchmarks._engine_bare import (
    CALLS,
    NS,
    TERMINAL,
    bare_batch,
    bare_machine,
    bare_pass,
)
from lifecycle import RunLifecycle

TARGET_RATIO = 1.3

# one tool round: the edges of a typical run, as (trigger, status) pairs
TRACE = [
    ("start", "in_progress"),
    ("require_action", "requires_action"),
    ("submit_tool_outputs", "queued"),
    ("start", "in_progress"),
    ("complete", "completed"),
]
KINDS = ("plain", "awaiting", "submit", "terminal", "inferred", "mix")


# -- the engine side: batches in each kind's source state, and the timed passes ------------------


def _engine_batch(kind: str, runs: int) -> list[RunLifecycle]:
    out = []
    for _ in range(runs):
        lc = RunLifecycle()
        if kind in ("awaiting", "submit", "terminal"):
            lc.observe("in_progress", via="stream", at=1.0)
        if kind == "submit":
            lc.observe("requires_action", via="stream", at=2.0, tool_calls=CALLS)
            lc.take_commands()
            lc.record_submission(["call_1"])
        out.append(lc)
    return out


def _engine_pass(kind: str, batch: list[RunLifecycle]) -> int:
    # one explicit loop per kind: no extra call per operation on either side
    if kind == "plain":
        t0 = NS()
        for lc in batch:
            lc.observe("in_progress", via="stream", at=1.0)
        return NS() - t0
    if kind == "awaiting":
        t0 = NS()
        for lc in batch:
            lc.observe("requires_action", via="stream", at=2.0, tool_calls=CALLS)
        return NS() - t0
    if kind == "submit":
        t0 = NS()
        for lc in batch:
            lc.observe("queued", via="client", at=3.0)
        return NS() - t0
    if kind == "terminal":
        targets = [TERMINAL[i % len(TERMINAL)][0] for i in range(len(batch))]
        t0 = NS()
        for lc, status in zip(batch, targets, strict=True):
            lc.observe(status, via="stream", at=5.0)
        return NS() - t0
    if kind == "inferred":
        t0 = NS()
        for lc in batch:
            lc.observe("completed", via="poll", at=5.0)
        return NS() - t0
    t0 = NS()
    for lc in batch:
        lc.observe("in_progress", via="stream", at=1.0)
        lc.observe("requires_action", via="stream", at=2.0, tool_calls=CALLS)
        lc.record_submission(["call_1"])
        lc.observe("queued", via="client", at=3.0)
        lc.observe("in_progress", via="stream", at=4.0)
        lc.observe("completed", via="stream", at=5.0)
    return NS() - t0


#: (state, journal length, commands emitted) each kind leaves an engine run in (from a fresh run)
_ENGINE_AFTER: dict[str, tuple[str | None, int, int]] = {
    "plain": ("in_progress", 1, 0),
    "awaiting": ("requires_action", 2, 1),
    "submit": ("queued", 3, 0),
    "terminal": (None, 2, 1),
    "inferred": ("completed", 2, 1),
    "mix": ("completed", 5, 2),
}


def _check_engine(kind: str, batch: list[RunLifecycle]) -> None:
    """The timed pass did what the kind says (outside the timed region)."""
    state, journal, commands = _ENGINE_AFTER[kind]
    for lc in batch:
        assert state is None or lc.state == state, (kind, lc)
        assert len(lc.history) == journal, (kind, lc)
        assert not lc.anomalies, (kind, lc)
        assert len(lc.take_commands()) == commands, (kind, lc)


#: observations (engine) per object in one pass of each kind
_OPS = {"plain": 1, "awaiting": 1, "submit": 1, "terminal": 1, "inferred": 1, "mix": 5}


def per_edge_kind(runs: int, repeats: int) -> dict[str, Any]:
    """``observe()`` vs the bare trigger(s) of the same edge(s), per kind; ns per observation."""
    machine = bare_machine()
    engine: dict[str, list[float]] = {k: [] for k in KINDS}
    bare: dict[str, list[float]] = {k: [] for k in KINDS}

    def sample(kind: str, n: int, engine_first: bool) -> tuple[float, float]:
        lcs, models = _engine_batch(kind, n), bare_batch(kind, n)
        gc.disable()
        try:
            if engine_first:
                e = _engine_pass(kind, lcs)
                b = bare_pass(kind, models, machine)
            else:
                b = bare_pass(kind, models, machine)
                e = _engine_pass(kind, lcs)
        finally:
            gc.enable()
        _check_engine(kind, lcs)
        return e / (n * _OPS[kind]), b / (n * _OPS[kind])

    for kind in KINDS:  # warm-up (builds the shared machine, fills path caches)
        sample(kind, 200, True)
    for i in range(repeats):
        for kind in KINDS:
            e, b = sample(kind, runs, engine_first=i % 2 == 0)  # alternate who goes first
            engine[kind].append(e)
            bare[kind].append(b)
    kinds: dict[str, Any] = {}
    for kind in KINDS:
        e_med, b_med = statistics.median(engine[kind]), statistics.median(bare[kind])
        paired = [e / b for e, b in zip(engine[kind], bare[kind], strict=True)]
        kinds[kind] = {
            "observe_ns": {"median": e_med, "min": min(engine[kind]), "max": max(engine[kind])},
            "bare_ns": {"median": b_med, "min": min(bare[kind]), "max": max(bare[kind])},
            # median over median, and best over best (timeit's advice on a busy machine); the
            # paired ratios (one batch each, back to back) show the spread the machine adds
            "ratio": e_med / b_med,
            "ratio_best": min(engine[kind]) / min(bare[kind]),
            "ratio_paired": {
                "median": statistics.median(paired),
                "min": min(paired),
                "max": max(paired),
            },
        }
    return {
        "kinds": kinds,
        "ratio_max": max(k["ratio"] for k in kinds.values()),
        "ratio_best_max": max(k["ratio_best"] for k in kinds.values()),
        "target_ratio": TARGET_RATIO,
        "runs_per_sample": runs,
        "repeats": repeats,
        "note": "ns per observation; inferred = one observe() vs two bare triggers; "
        "mix = a whole tool round per observation, record_submission included",
    }


def format_kinds(result: dict[str, Any]) -> str:
    """The per-kind table as printed."""
    rows = [
        f"{'edge kind':<10} {'observe us':>10} {'bare us':>9} {'ratio':>6} {'best':>6} "
        f"{'paired range':>13}  target"
    ]
    for kind, k in result["kinds"].items():
        paired = k["ratio_paired"]
        rows.append(
            f"{kind:<10} {k['observe_ns']['median'] / 1000:>10.2f} "
            f"{k['bare_ns']['median'] / 1000:>9.2f} {k['ratio']:>5.2f}x {k['ratio_best']:>5.2f}x "
            f"{paired['min']:>6.2f}-{paired['max']:.2f}x  <= {TARGET_RATIO}"
        )
    rows.append("(us per observation, medians; ratio = median / median, best = min / min)")
    return "\n".join(rows)


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
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine.json"))
    args = parser.parse_args(argv)
    n = 10_000 if args.quick else 100_000
    result: dict[str, Any] = {
        "benchmark": "engine",
        "environment": environment(),
        "observe_vs_transitions": per_edge_kind(
            runs=500 if args.quick else 2_000, repeats=5 if args.quick else 15
        ),
        "attach": attach_cost(total=n, batch=1_000),
        "memory": memory_per_run(n),
    }
    write_result(args.out, result)
    o, a, m = result["observe_vs_transitions"], result["attach"], result["memory"]
    print(
        f"{format_kinds(o)}\n"
        f"attach run #1 {a['ns_per_attach_first'] / 1000:.2f} us vs #{a['n']:,} "
        f"{a['ns_per_attach_at_n'] / 1000:.2f} us (x{a['ratio']:.2f}, target <= 2)\n"
        f"memory {m['bytes_per_run']:.0f} B per run at {m['n']:,} (target <= 2048)\n"
        f"-> {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
