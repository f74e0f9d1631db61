"""Scale: one process, one event loop, N concurrent runs: ``AsyncRunController`` vs a bare loop.

Every run plays ``CALLS`` parallel tool calls in one ``requires_action`` round, then answers. The
N runs are started together (``asyncio.gather``) against one :class:`Simulator`, reached
**in-process** through ``sim.async_http_client()``: the real ``openai.AsyncOpenAI`` client and
``httpx2`` stack and the simulator's real ASGI app, but no sockets. Why: with uvicorn on loopback,
10,000 concurrent runs would measure the server thread (h11 parsing, GIL contention with the
client loop) and the connection pool more than the driver, and need 10k file descriptors. The
price: the simulator's CPU is in the same loop, so ``cpu_ms_per_run`` is driver + simulator (the
same simulator work for both sides when they make the same requests); ``profile_hot_path.py``
splits it.

Two sides, same scenario, same transport, same N, each in a fresh interpreter:

* ``controller``: ``AsyncRunController(client, tools=registry,
  config=ControllerConfig(fetch_messages=False)).run(...)`` (polling, its defaults otherwise);
* ``bare``: what a careful user writes with ``openai.AsyncOpenAI`` directly (:func:`bare_run`):
  create the run, poll with ``runs.retrieve`` honouring ``openai-poll-after-ms`` (read from the raw
  response), run the round's tool calls concurrently with ``asyncio.gather`` and submit all
  outputs in one request, until a terminal status. No retries, no journal, no deadlines.

The sides alternate: pair ``i`` runs ``bare`` first when ``i`` is even, ``controller`` first when
it is odd, so a slow spell of a shared machine does not land on one side only. Ratios are
controller / bare, of the medians and per back-to-back pair.

Checked, not assumed, for both sides: every run completed; the tool counter saw exactly
``N * CALLS`` executions; every run has exactly one round of ``CALLS`` submitted outputs, and the
outputs are exactly those executions (each carries its execution's serial number: all distinct,
none missing).

Each (size, side) runs in a fresh subprocess, so ``peak_rss_mib`` (``ru_maxrss``) is its own.
Before the timed runs each subprocess drives ``WARMUP`` runs (imports, first-call caches).

Targets (reported, not asserted): controller <= 1.15x the bare loop's CPU per run and >= 0.9x
its throughput, at N = 1,000 and N = 10,000.

Usage: ``python -m benchmarks.bench_scale [--quick | --full] [--sizes 100,1000] [--pairs K]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import openai

from adapters.openai import AsyncRunController, ControllerConfig
from adapters.simulator import Answer, CallTools, Queue, Scenario, Simulator, ToolCallSpec
from benchmarks._common import environment, write_result
from benchmarks._observe import TOOL_NAME, ToolLog, make_registry
from benchmarks._scale_bare import bare_run
from lifecycle import RunStatus

CALLS = 3
STEP = 0.05
TOOL_SECONDS = 0.05
POLL_AFTER_MS = 100
WARMUP = 20
SCENARIO = Scenario(
    (
        Queue(STEP),
        CallTools(
            tuple(ToolCallSpec.of(TOOL_NAME, {"label": f"c{i}"}) for i in range(CALLS)), STEP
        ),
        Answer("{outputs}", STEP),
    )
)
SIDES = ("bare", "controller")
QUICK_SIZES = (20,)
DEFAULT_SIZES = (100, 1_000)
FULL_SIZES = (100, 1_000, 10_000)
#: back-to-back pairs per size (a pair = one subprocess per side)
DEFAULT_PAIRS: Mapping[int, int] = {20: 1, 100: 3, 1_000: 3, 10_000: 2}
CPU_TARGET = 1.15  # controller CPU per run / bare
THROUGHPUT_TARGET = 0.9  # controller runs/s / bare
TARGET_SIZES = (1_000, 10_000)


def _rss_mib() -> float:
    """The current resident set size, in MiB (Linux ``/proc/self/statm``)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * resource.getpagesize() / 2**20


# -- one size, one side, in this process ----------------------------------------------------------


@contextlib.contextmanager
def gc_clock() -> Iterator[dict[str, float]]:
    """CPU seconds spent in the garbage collector, and collections per generation, in a block."""
    totals: dict[str, float] = {"cpu_s": 0.0, "gen0": 0, "gen1": 0, "gen2": 0}
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.process_time()
        else:
            totals["cpu_s"] += time.process_time() - started[0]
            totals[f"gen{info['generation']}"] += 1

    gc.callbacks.append(callback)
    try:
        yield totals
    finally:
        gc.callbacks.remove(callback)


def _simulator() -> Simulator:
    sim = Simulator(poll_after_ms=POLL_AFTER_MS)
    sim.add_scenario("scale", SCENARIO)
    sim.default_scenario = "scale"
    return sim


Window = Callable[[], contextlib.AbstractContextManager[Any]]


async def _one_size(
    n: int, side: str = "controller", warmup: int = 0, window: Window = contextlib.nullcontext
) -> dict[str, Any]:
    """Drive ``warmup`` runs, then ``n`` concurrent timed runs with ``side``; numbers and checks.

    ``window`` is entered around the timed runs only (the profiler uses it).
    """
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r}; one of {SIDES}")
    sim = _simulator()
    log = ToolLog(TOOL_SECONDS)
    client = openai.AsyncOpenAI(
        base_url="http://simulator.local/v1",
        api_key="sk-sim-bench",
        max_retries=0,
        http_client=sim.async_http_client(timeout=300.0),
    )
    async with client:
        assistant = (await client.beta.assistants.create(model="gpt-sim")).id
        controller = AsyncRunController(
            client,
            tools=make_registry(log, use_async=True),
            config=ControllerConfig(fetch_messages=False),
        )

        async def drive(thread_id: str) -> str:
            if side == "bare":
                return await bare_run(client, thread_id, assistant, log)
            outcome = await controller.run(thread_id=thread_id, assistant_id=assistant)
            return str(outcome.run_id)

        if warmup:
            warm = [(await client.beta.threads.create()).id for _ in range(warmup)]
            await asyncio.gather(*(drive(t) for t in warm))
        threads = [(await client.beta.threads.create()).id for _ in range(n)]
        executions_before = log.executions
        requests_before = len(sim.requests)
        rss_before = _rss_mib()
        with window(), gc_clock() as collected:
            cpu0, wall0 = time.process_time(), time.perf_counter()
            run_ids = await asyncio.gather(*(drive(t) for t in threads))
            wall = time.perf_counter() - wall0
            cpu = time.process_time() - cpu0
        requests = len(sim.requests) - requests_before
    statuses: dict[str, int] = {}
    submitted: list[str] = []
    one_round_each = True
    for run_id in run_ids:
        status = str(sim.runs[run_id].status)
        statuses[status] = statuses.get(status, 0) + 1
        rounds = sim.tool_outputs(run_id)
        one_round_each = one_round_each and len(rounds) == 1 and len(rounds[0]) == CALLS
        submitted += [o.output for rnd in rounds for o in rnd]
    executions = log.executions - executions_before
    return {
        "side": side,
        "n": n,
        "wall_s": wall,
        "runs_per_s": n / wall,
        "cpu_ms_per_run": cpu * 1000 / n,
        "cpu_s": cpu,
        "gc_ms_per_run": collected["cpu_s"] * 1000 / n,
        "gc_collections": {k: int(v) for k, v in collected.items() if k.startswith("gen")},
        "requests_per_run": requests / n,
        "rss_before_runs_mib": rss_before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_statuses": statuses,
        "all_completed": statuses == {str(RunStatus.COMPLETED): n},
        "tool_executions": executions,
        "tool_outputs_submitted": len(submitted),
        "outputs_one_round_each": one_round_each,
        "tools_exactly_once": one_round_each
        and executions == len(submitted) == len(set(submitted)) == n * CALLS,
    }


def measure_size(n: int, side: str = "controller", warmup: int = WARMUP) -> dict[str, Any]:
    """Drive ``n`` concurrent runs with ``side`` in this process; the numbers and the checks."""
    return asyncio.run(_one_size(n, side, warmup))


def measure_in_subprocess(n: int, side: str) -> dict[str, Any]:
    """:func:`measure_size` in a fresh interpreter, so the peak RSS is this size's own."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "size.json"
        subprocess.run(
            [
                sys.executable,
                "-W",
                "ignore",
                "-m",
                "benchmarks.bench_scale",
                "--one",
                str(n),
                "--side",
                side,
                "--one-out",
                str(out),
            ],
            check=True,
        )
        loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return loaded


# -- sizes, pairs and ratios ----------------------------------------------------------------------


def _median(values: list[float]) -> float:
    return statistics.median(values)


def compare_size(n: int, pairs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """One size: each side's medians over its pairs, the ratios controller / bare, the checks."""
    sides: dict[str, Any] = {}
    for side in SIDES:
        runs = [p[side] for p in pairs]
        sides[side] = {
            "wall_s": _median([r["wall_s"] for r in runs]),
            "runs_per_s": _median([r["runs_per_s"] for r in runs]),
            "cpu_ms_per_run": _median([r["cpu_ms_per_run"] for r in runs]),
            "gc_ms_per_run": _median([r["gc_ms_per_run"] for r in runs]),
            "cpu_ms_per_run_range": [
                min(r["cpu_ms_per_run"] for r in runs),
                max(r["cpu_ms_per_run"] for r in runs),
            ],
            "requests_per_run": _median([r["requests_per_run"] for r in runs]),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
            "all_completed": all(r["all_completed"] for r in runs),
            "tools_exactly_once": all(r["tools_exactly_once"] for r in runs),
        }
    ctl, bare = sides["controller"], sides["bare"]
    cpu_paired = _median(
        [p["controller"]["cpu_ms_per_run"] / p["bare"]["cpu_ms_per_run"] for p in pairs]
    )
    tput_paired = _median([p["controller"]["runs_per_s"] / p["bare"]["runs_per_s"] for p in pairs])
    ratios = {
        "cpu_per_run": ctl["cpu_ms_per_run"] / bare["cpu_ms_per_run"],
        "cpu_per_run_paired": cpu_paired,
        "throughput": ctl["runs_per_s"] / bare["runs_per_s"],
        "throughput_paired": tput_paired,
        "wall": ctl["wall_s"] / bare["wall_s"],
        "requests_per_run": ctl["requests_per_run"] / bare["requests_per_run"],
    }
    out: dict[str, Any] = {"n": n, "pairs": len(pairs), "sides": sides, "ratios": ratios}
    if n in TARGET_SIZES:
        out["targets"] = {
            "cpu_ok": ratios["cpu_per_run"] <= CPU_TARGET,
            "throughput_ok": ratios["throughput"] >= THROUGHPUT_TARGET,
        }
    out["runs"] = pairs
    return out


def run_size(n: int, pairs: int) -> dict[str, Any]:
    """``pairs`` back-to-back pairs of subprocesses at size ``n``, the first side alternating."""
    measured: list[dict[str, dict[str, Any]]] = []
    for i in range(pairs):
        order = SIDES if i % 2 == 0 else tuple(reversed(SIDES))
        measured.append({side: measure_in_subprocess(n, side) for side in order})
    return compare_size(n, measured)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="N = 20 only, one pair (smoke run)")
    size.add_argument("--full", action="store_true", help="N = 100, 1,000 and 10,000")
    size.add_argument("--sizes", type=str, help="comma-separated sizes, e.g. 100,1000")
    parser.add_argument("--pairs", type=int, default=None, help="pairs per size")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--side", choices=SIDES, default="controller", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=WARMUP, help=argparse.SUPPRESS)
    parser.add_argument("--one-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    args = parser.parse_args(argv)
    if args.one is not None:
        result = measure_size(args.one, args.side, args.warmup)
        if args.one_out is not None:
            args.one_out.write_text(json.dumps(result), encoding="utf-8")
        return 0
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    else:
        sizes = QUICK_SIZES if args.quick else FULL_SIZES if args.full else DEFAULT_SIZES
    results = [
        run_size(n, args.pairs if args.pairs is not None else DEFAULT_PAIRS.get(n, 1))
        for n in sizes
    ]
    write_result(
        args.out,
        {
            "benchmark": "scale",
            "sizes": results,
            "settings": {
                "transport": "in-process ASGI (sim.async_http_client), AsyncOpenAI, one loop",
                "tool_calls_per_run": CALLS,
                "tool_seconds": TOOL_SECONDS,
                "step_seconds": STEP,
                "poll_after_ms": POLL_AFTER_MS,
                "warmup_runs": WARMUP,
                "controller": "AsyncRunController, polling, fetch_messages=False",
                "bare": "AsyncOpenAI: create, retrieve honouring openai-poll-after-ms, "
                "asyncio.gather tools, one submit; no retries",
                "targets": {
                    "cpu_per_run": f"controller / bare <= {CPU_TARGET}",
                    "throughput": f"controller / bare >= {THROUGHPUT_TARGET}",
                    "sizes": list(TARGET_SIZES),
                },
            },
            "environment": environment(),
        },
        sort_keys=False,
    )
    print(format_table(results))
    return 0


def format_table(results: list[dict[str, Any]]) -> str:
    """A markdown table: per size and side, then the ratios."""
    lines = [
        "| N | side | wall s | runs/s | CPU ms/run | of which GC | requests/run | peak RSS MiB | "
        "completed | tools exactly once |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        for side, s in r["sides"].items():
            lines.append(
                f"| {r['n']:,} | {side} | {s['wall_s']:.2f} | {s['runs_per_s']:.0f} | "
                f"{s['cpu_ms_per_run']:.2f} | {s['gc_ms_per_run']:.2f} | "
                f"{s['requests_per_run']:.1f} | "
                f"{s['peak_rss_mib']:.0f} | {s['all_completed']} | {s['tools_exactly_once']} |"
            )
    lines += [
        "",
        "| N | pairs | CPU/run ctl/bare (paired) | throughput ctl/bare (paired) | wall ctl/bare | "
        "targets |",
        "| ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in results:
        q = r["ratios"]
        t = r.get("targets")
        verdict = (
            "-"
            if t is None
            else f"CPU {'met' if t['cpu_ok'] else 'MISSED'}, "
            f"throughput {'met' if t['throughput_ok'] else 'MISSED'}"
        )
        lines.append(
            f"| {r['n']:,} | {r['pairs']} | {q['cpu_per_run']:.2f}x "
            f"({q['cpu_per_run_paired']:.2f}x) | {q['throughput']:.2f}x "
            f"({q['throughput_paired']:.2f}x) | {q['wall']:.2f}x | {verdict} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
