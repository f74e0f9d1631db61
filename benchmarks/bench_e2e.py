"""End to end, per server profile: our controller vs the SDK's own polling loop, side by side.

The headline is the **poll schedule**: how long a run takes and how many requests it costs on the
server behaviours users meet, against what a user would otherwise write. Every side drives the
same scenarios against one :class:`~adapters.simulator.Simulator` per server profile, served by
uvicorn on loopback (real sockets, the real ``openai`` client, ``max_retries=0``), in ONE run:

* profiles (:data:`adapters.simulator.PROFILES`): ``get-only-poll-after`` (``openai-poll-after-ms:
  50`` on GET run responses only, never on create or submit: what an independent server did; the
  headline), ``no-poll-after`` (never a header), ``reference`` (20 ms on every run response, the
  simulator's default; for continuity with earlier results) and ``no-sse`` (like reference, but
  ``stream=true`` is answered with the plain JSON run: the streaming side must fall back);
* sides: ``sdk`` = the SDK loop exactly as a user writes it, with the SDK's DEFAULT poll settings
  (no ``poll_interval_ms``): ``runs.create_and_poll(...)``, then while the run requires action the
  caller runs the calls one after another and calls ``runs.submit_tool_outputs_and_poll(...)``,
  then ``messages.list(run_id=...)``; ``controller-poll`` / ``controller-stream`` =
  ``RunController(client, tools=registry, stream=False/True).run(...)`` with the default
  :class:`ControllerConfig` (it lists the messages too);
* what-if sides (``--what-if``, on ``no-poll-after`` only): ``controller-poll`` with another
  ``first_poll_backoff_s`` (a setting users can pass), to measure the schedule's trade-off.

Scenarios (each server-side step lasts ``--step``, 50 ms by default; each tool call
``--tool-seconds``, 0.2 s): ``text`` (no tools), ``one-tool`` (one call), ``two-rounds`` (one call
per round, two rounds), ``parallel-3`` (one round of three calls).

The sides take turns: each repeat drives one run per side, and the side that goes first rotates,
so a slow moment of a shared machine does not land on one side only.

Measured per run:

* **wall time** of the drive (create to messages listed);
* **requests**: HTTP requests the simulator received while the run was driven (its request log;
  runs are driven one at a time, so the window is exact), split by kind;
* **detection latency**: for every status change in ``sim.run_history(run_id)`` (server time),
  the first moment the client's HTTP layer received a body (JSON) or SSE event naming that status,
  minus the server's change time. Both times come from ``time.time`` in one process (the simulator
  runs in a thread of this process), so there is no clock skew. The client side is observed by a
  wrapping ``httpx2`` transport, identically for every side. Changes the client never saw (a poll
  that jumps over ``in_progress``) are counted as ``missed``. ``actionable`` = the changes a
  driver must react to (``spec.stop_polling``: ``requires_action`` and the terminal statuses);
* **client CPU** = process CPU minus the CPU of the simulator's server thread
  (``time.pthread_getcpuclockid``), so the simulator's own work is not charged;
* **tool round span**: first tool start to last tool end in a round;
* **stream fallbacks**: how often the controller logged "no stream; polling instead".

Targets (reported, never asserted): on ``get-only-poll-after`` and ``no-poll-after``, for
``text``, ``one-tool`` and ``two-rounds``: wall time per run <= 1.25x the SDK loop's, requests per
run <= the SDK loop's. ``schedule_model`` replays the kernel's real :class:`PollSchedule` (pure,
no I/O) against the SDK's loop over longer phases than the scenarios have, for a server that
sends no header, to show how the request ratio depends on how long a run stays in a status.

Usage: ``python -m benchmarks.bench_e2e [--quick] [--repeats N] [--profiles a,b] [--what-if]``
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from adapters.simulator import PROFILES, CallTools, Simulator, SimulatorServer
from benchmarks._common import environment, unknown_names, write_result
from benchmarks._e2e_measure import Bench, Side, aggregate, drive_once
from benchmarks._e2e_report import format_headline, format_table, headline, parallel_ratios
from benchmarks._e2e_sides import (
    PROFILE_NAMES,
    SCENARIOS,
    SIDES,
    STEP,
    WHAT_IF_PROFILE,
    FallbackCounter,
    counting_fallbacks,
    make_driver,
    make_scenarios,
    what_if_side,
)
from benchmarks._observe import (
    TOOL_NAME,
    TOOL_SECONDS,
    ToolLog,
    detection_latencies,
    make_registry,
)
from benchmarks._schedule_model import WHAT_IF_BACKOFFS, format_model, schedule_model

__all__ = [
    "SCENARIOS",
    "SIDES",
    "TOOL_NAME",
    "ToolLog",
    "detection_latencies",
    "main",
    "make_driver",
    "make_registry",
    "make_scenarios",
    "run",
    "what_if_side",
]

# -- one profile ----------------------------------------------------------------------------------


def run_profile(
    profile: str,
    sides: Sequence[str],
    scenarios: Sequence[str],
    repeats: int,
    *,
    step: float,
    tool_seconds: float,
    fallbacks: FallbackCounter,
) -> dict[str, dict[str, Any]]:
    """Every side on every scenario against one simulator with ``profile``, sides alternating.

    Returns:
        ``{side: {scenario: cell}}``.
    """
    table = make_scenarios(step)
    sim = Simulator(default_scenario="text", profile=profile)
    for name, scenario in table.items():
        sim.add_scenario(name, scenario)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        side: {name: [] for name in scenarios} for side in sides
    }
    with SimulatorServer(sim) as server, contextlib.ExitStack() as stack:
        bench = Bench(server)
        active: list[Side] = []
        for name in sides:
            log = ToolLog(tool_seconds)
            client = stack.enter_context(bench.client())
            active.append(Side(name, client, log, make_driver(name, log)))
        setup = active[0].client
        assistants = {
            n: setup.beta.assistants.create(model="gpt-sim", metadata={"scenario": n}).id
            for n in scenarios
        }
        for side in active:  # one warm-up run per side (connections, first-call caches)
            drive_once(bench, side, assistants[scenarios[0]], fallbacks, 0)
        for name in scenarios:
            rounds = sum(isinstance(s, CallTools) for s in table[name].steps)
            for i in range(repeats):
                shift = i % len(active)
                for side in active[shift:] + active[:shift]:
                    runs[side.name][name].append(
                        drive_once(bench, side, assistants[name], fallbacks, rounds)
                    )
    return {
        side: {name: aggregate(per_run, table[name]) for name, per_run in by.items()}
        for side, by in runs.items()
    }


# -- the whole benchmark --------------------------------------------------------------------------


def run(
    repeats: int,
    scenarios: Iterable[str] = SCENARIOS,
    tool_seconds: float = TOOL_SECONDS,
    *,
    step: float = STEP,
    profiles: Iterable[str] = PROFILE_NAMES,
    what_if: bool = False,
) -> dict[str, Any]:
    """Run every side on every profile and scenario; the result dict (headline first)."""
    names = list(scenarios)
    measured: dict[str, dict[str, dict[str, Any]]] = {}
    with counting_fallbacks() as fallbacks:
        for profile in profiles:
            sides = list(SIDES)
            if what_if and profile == WHAT_IF_PROFILE:
                sides += [what_if_side(b) for b in WHAT_IF_BACKOFFS]
            measured[profile] = run_profile(
                profile,
                sides,
                names,
                repeats,
                step=step,
                tool_seconds=tool_seconds,
                fallbacks=fallbacks,
            )
    return {
        "benchmark": "e2e",
        "headline": headline(measured),
        "settings": {
            "transport": "uvicorn on 127.0.0.1 (real sockets, TCP_NODELAY), sync openai client",
            "profiles": list(measured),
            "sdk": "create_and_poll + submit_tool_outputs_and_poll, default poll settings",
            "controller": "RunController, default ControllerConfig",
            "step_seconds": step,
            "tool_seconds": tool_seconds,
            "repeats": repeats,
            "sides_alternate": True,
        },
        "profiles": measured,
        "parallel_ratio": parallel_ratios(measured),
        "schedule_model": schedule_model(),
        "environment": environment(),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one run per cell, 10 ms steps and tools"
    )
    parser.add_argument(
        "--scenarios", type=str, default=",".join(SCENARIOS), help="comma-separated names"
    )
    parser.add_argument(
        "--profiles", type=str, default=",".join(PROFILE_NAMES), help="comma-separated profiles"
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per cell")
    parser.add_argument("--step", type=float, default=None, help="seconds per scenario step")
    parser.add_argument(
        "--what-if",
        action="store_true",
        help=f"also controller-poll with first_poll_backoff_s in {WHAT_IF_BACKOFFS} "
        f"on {WHAT_IF_PROFILE}",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/e2e.json"))
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    step = args.step if args.step is not None else (0.01 if args.quick else STEP)
    scenarios = [n for n in args.scenarios.split(",") if n]
    profiles = [p for p in args.profiles.split(",") if p]
    bad = unknown_names({"scenario": (scenarios, SCENARIOS), "profile": (profiles, PROFILES)})
    if bad is not None:
        print(f"bench_e2e: {bad}", file=sys.stderr)
        return 2
    result = run(
        repeats,
        scenarios=scenarios,
        tool_seconds=0.01 if args.quick else TOOL_SECONDS,
        step=step,
        profiles=profiles,
        what_if=args.what_if,
    )
    write_result(args.out, result, sort_keys=False)
    print(format_headline(result))
    print()
    print(format_table(result))
    print()
    print(format_model(result["schedule_model"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
