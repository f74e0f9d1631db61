"""Scale: one process, one event loop, :class:`AsyncRunController` steering N concurrent runs.

Every run plays ``CALLS`` parallel tool calls in one ``requires_action`` round, then answers. The
N runs are started together (``asyncio.gather``) against one :class:`Simulator`, reached
**in-process** through ``sim.async_http_client()``: the real ``openai.AsyncOpenAI`` client and
``httpx2`` stack and the simulator's real ASGI app, but no sockets. Why: with uvicorn on loopback,
10,000 concurrent runs would measure the server thread (h11 parsing, GIL contention with the
client loop) and the connection pool more than the controller, and need 10k file descriptors. The
price: the simulator's CPU is in the same loop, so ``cpu_ms_per_run`` is client + simulator;
``profile_hot_path.py`` splits it.

Checked, not assumed: every run's final status is terminal (``spec.terminal``) and completed; the
tool counter saw exactly ``N * CALLS`` executions; the outputs the simulator received are exactly
those executions (each output carries its execution's serial number: all distinct, none missing).

Each size runs in a fresh subprocess, so ``peak_rss_mib`` (``ru_maxrss``) belongs to that size.

Usage: ``python -m benchmarks.bench_scale [--quick | --full] [--sizes 100,1000] [--out PATH]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import openai

from adapters.openai import AsyncRunController, ControllerConfig
from adapters.simulator import Answer, CallTools, Queue, Scenario, Simulator, ToolCallSpec
from benchmarks._common import environment, write_result
from benchmarks.bench_e2e import TOOL_NAME, ToolLog, make_registry
from lifecycle import ASSISTANTS_RUN, RunStatus

CALLS = 3
STEP = 0.05
TOOL_SECONDS = 0.05
POLL_AFTER_MS = 100
SCENARIO = Scenario(
    (
        Queue(STEP),
        CallTools(
            tuple(ToolCallSpec.of(TOOL_NAME, {"label": f"c{i}"}) for i in range(CALLS)), STEP
        ),
        Answer("{outputs}", STEP),
    )
)
DEFAULT_SIZES = (100, 1_000)
FULL_SIZES = (100, 1_000, 10_000)


def _rss_mib() -> float:
    """The current resident set size, in MiB (Linux ``/proc/self/statm``)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return float("nan")
    return pages * resource.getpagesize() / 2**20


async def _one_size(n: int) -> dict[str, Any]:
    sim = Simulator(poll_after_ms=POLL_AFTER_MS)
    sim.add_scenario("scale", SCENARIO)
    sim.default_scenario = "scale"
    log = ToolLog(TOOL_SECONDS)
    client = openai.AsyncOpenAI(
        base_url="http://simulator.local/v1",
        api_key="sk-sim-bench",
        max_retries=0,
        http_client=sim.async_http_client(timeout=120.0),
    )
    async with client:
        assistant = await client.beta.assistants.create(model="gpt-sim")
        threads = [(await client.beta.threads.create()).id for _ in range(n)]
        controller = AsyncRunController(
            client,
            tools=make_registry(log, use_async=True),
            config=ControllerConfig(fetch_messages=False),
        )
        requests_before = len(sim.requests)
        rss_before = _rss_mib()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        outcomes = await asyncio.gather(
            *(controller.run(thread_id=t, assistant_id=assistant.id) for t in threads)
        )
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    terminal = {str(s) for s in ASSISTANTS_RUN.terminal}
    submitted = [o.output for out in outcomes for rnd in sim.tool_outputs(out.run_id) for o in rnd]
    statuses: dict[str, int] = {}
    for out in outcomes:
        statuses[out.status] = statuses.get(out.status, 0) + 1
    return {
        "n": n,
        "wall_s": wall,
        "runs_per_s": n / wall,
        "cpu_ms_per_run": cpu * 1000 / n,
        "cpu_s": cpu,
        "requests_per_run": (len(sim.requests) - requests_before) / n,
        "rss_before_runs_mib": rss_before,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_statuses": statuses,
        "all_terminal": all(out.status in terminal for out in outcomes),
        "all_completed": all(out.status == RunStatus.COMPLETED for out in outcomes),
        "tool_executions": log.executions,
        "tool_outputs_submitted": len(submitted),
        "tools_exactly_once": log.executions == len(submitted) == len(set(submitted)) == n * CALLS,
    }


def measure_size(n: int) -> dict[str, Any]:
    """Steer ``n`` concurrent runs in this process; the numbers and the checks."""
    return asyncio.run(_one_size(n))


def measure_in_subprocess(n: int) -> dict[str, Any]:
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
                "--one-out",
                str(out),
            ],
            check=True,
        )
        loaded: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return loaded


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="N = 20 only (smoke run)")
    size.add_argument("--full", action="store_true", help="N = 100, 1,000 and 10,000")
    size.add_argument("--sizes", type=str, help="comma-separated sizes, e.g. 100,1000")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/scale.json"))
    args = parser.parse_args(argv)
    if args.one is not None:
        result = measure_size(args.one)
        if args.one_out is not None:
            args.one_out.write_text(json.dumps(result), encoding="utf-8")
        return 0
    if args.sizes:
        sizes = tuple(int(s) for s in args.sizes.split(","))
    else:
        sizes = (20,) if args.quick else FULL_SIZES if args.full else DEFAULT_SIZES
    results = [measure_in_subprocess(n) for n in sizes]
    write_result(
        args.out,
        {
            "benchmark": "scale",
            "environment": environment(),
            "settings": {
                "transport": "in-process ASGI (sim.async_http_client), AsyncOpenAI, one loop",
                "tool_calls_per_run": CALLS,
                "tool_seconds": TOOL_SECONDS,
                "step_seconds": STEP,
                "poll_after_ms": POLL_AFTER_MS,
                "controller": "AsyncRunController, polling, fetch_messages=False",
            },
            "sizes": results,
        },
    )
    print(format_table(results))
    return 0


def format_table(results: list[dict[str, Any]]) -> str:
    """A markdown table of the scale results."""
    lines = [
        "| N | wall s | runs/s | CPU ms/run | requests/run | peak RSS MiB | all terminal | "
        "tools exactly once |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['n']:,} | {r['wall_s']:.2f} | {r['runs_per_s']:.0f} | "
            f"{r['cpu_ms_per_run']:.2f} | {r['requests_per_run']:.1f} | "
            f"{r['peak_rss_mib']:.0f} | {r['all_terminal']} | {r['tools_exactly_once']} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
