"""Responses background chains: our controllers vs what a user would otherwise write.

A run that uses tools on the Responses API is a **chain** of background responses: create one
(``background=True``), poll it with ``retrieve``, run the ``function_call`` items it completes
with, create the next response with ``previous_response_id`` and one ``function_call_output`` per
call, until a response completes without calls. The SDK has no poll helper for responses, and its
own tool runner refuses ``background``. This benchmark drives the same chains every way, side by
side, in ONE run: one process, one :class:`~adapters.simulator.Simulator` per server profile
served by uvicorn on loopback (real sockets), every side with its own real ``openai`` client
made with the SDK's defaults, as a user makes it (``OpenAI(base_url=..., api_key=...)``; the
controllers use it with ``max_retries=0``, being the one retry layer; no request here fails, so
retries never happen).

Sides:

* ``controller-sync`` = ``ResponseController(client, tools=registry).run(...)`` (polling, the
  default :class:`ControllerConfig`);
* ``controller-async`` = ``AsyncResponseController(async_client, tools=registry).run(...)``
  (polling; one event loop for the whole profile, ``asyncio.Runner``);
* ``controller-stream`` = ``ResponseController(..., stream=True)``;
* ``loop-2s`` / ``loop-1s`` / ``loop-0.25s`` = **the hand-written SDK loop** a careful user
  writes without us (:func:`hand_loop`): ``client.responses.create(background=True, ...)``,
  then, as in the API's background-mode guide,
  ``while status in (queued, in_progress): sleep(interval); retrieve``; run the function calls
  (one after another), create the next response with ``previous_response_id`` and the
  ``function_call_output`` items, repeating ``model``, ``instructions``, ``tools`` and
  ``metadata``. ``loop-2s`` sleeps what the guide's example sleeps (``sleep(2)``); ``loop-1s``
  sleeps the SDK's own pollers' default (1 s; the baseline of the ratios); ``loop-0.25s`` is a
  tight loop. None reads ``openai-poll-after-ms`` (the SDK's typed ``retrieve`` does not show
  headers). The scenarios have one call per round, so running calls one after another costs the
  loop nothing here;
* ``sdk-runner-fg`` = the SDK's own ``openai.lib.responses_tool_runner.ResponsesToolRunner`` in
  **foreground** mode (it refuses ``background``, ``conversation`` and
  ``previous_response_id``): one blocking create per turn, the history resent as input. Not the
  same thing as a background chain (nothing survives the connection; no poll, no cancel). Only
  ``text`` is comparable here: for a tool round the runner replays the history without
  ``previous_response_id``, which the simulator refuses (it plays scenarios along
  ``previous_response_id`` chains: 400 ``No tool call found ...``); that refusal is recorded once
  per profile under ``not_comparable``.

Profiles (:data:`adapters.simulator.PROFILES`): ``get-only-poll-after`` (``openai-poll-after-ms:
50`` on ``GET /responses/{id}`` only), ``no-poll-after`` (never a header), ``reference`` (20 ms on
every response answer). Scenarios: the simulator's own ``text``, ``order-total`` (one tool round)
and ``two-rounds`` (two), each server step lasting ``--step`` (50 ms), each tool call 0.2 s (10 ms
steps and tools with ``--quick``), picked with ``metadata={"scenario": name}``.

The sides take turns (each repeat drives one chain per side, the first side rotating), after one
warm-up chain per side. Measured per chain: **requests** (the simulator's request log; chains are
driven one at a time, so the window is exact), **wall time** (first create to final answer),
**client CPU** (process CPU minus the simulator's server thread). Checked for every chain, and the
benchmark exits 1 otherwise: the chain completed, with the expected final answer (the same for
every side), every tool call ran exactly once and its output reached the server once, every create
of a background side was ``background=True``, and the chain had the expected length.

The workload (settings, tools, scenarios, expected answers) is in ``_chains_workload``, the
sides in ``_chains_sides``, one chain measured and checked in ``_chains_measure``, the
comparison and tables in ``_chains_report``; this module runs them.

Usage: ``python -m benchmarks.bench_chains [--quick] [--repeats N] [--profiles a,b]
[--scenarios a,b] [--sides a,b] [--step S] [--out PATH]`` (default
``benchmarks/results/chains.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import openai

from adapters.simulator import PROFILES, Simulator, SimulatorServer
from benchmarks._chains_measure import aggregate, drive_once
from benchmarks._chains_report import comparison, failures, format_per_side, format_table
from benchmarks._chains_sides import hand_loop, make_side, runner_refusal
from benchmarks._chains_workload import (
    API_KEY,
    BASELINE,
    LOOPS,
    PROFILE_NAMES,
    RUNNER_SCENARIOS,
    RUNNER_SIDE,
    SCENARIOS,
    SIDES,
    STEP,
    TOOL_SECONDS,
    Tools,
    expected_answers,
    make_scenarios,
)
from benchmarks._common import environment, unknown_names, write_result

__all__ = [
    "BASELINE",
    "LOOPS",
    "PROFILE_NAMES",
    "RUNNER_SIDE",
    "SCENARIOS",
    "SIDES",
    "expected_answers",
    "format_table",
    "hand_loop",
    "main",
    "run",
]


def run_profile(
    profile: str,
    sides: Sequence[str],
    scenarios: Sequence[str],
    repeats: int,
    *,
    step: float,
    tool_seconds: float,
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Every side on every scenario against one simulator with ``profile``, sides alternating.

    Returns:
        ``({side: {scenario: cell}}, {scenario: what the foreground runner did})``.
    """
    table = make_scenarios(step)
    answers = expected_answers()
    sim = Simulator(default_scenario="text", profile=profile)
    for name, scenario in table.items():
        sim.add_scenario(name, scenario)
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        side: {n: [] for n in scenarios if side != RUNNER_SIDE or n in RUNNER_SCENARIOS}
        for side in sides
    }
    refusals: dict[str, Any] = {}
    with SimulatorServer(sim) as server, contextlib.ExitStack() as stack:

        def client() -> openai.OpenAI:
            c = openai.OpenAI(base_url=server.base_url, api_key=API_KEY)
            return stack.enter_context(c)

        active = [make_side(name, client, server.base_url, stack, tool_seconds) for name in sides]
        for side in active:  # one warm-up chain per side (connections, first-call caches)
            warm = scenarios[0] if side.name != RUNNER_SIDE else "text"
            drive_once(sim, side, warm, table[warm], answers[warm])
        for name in scenarios:
            for i in range(repeats):
                shift = i % len(active)
                for side in active[shift:] + active[:shift]:
                    if name in runs[side.name]:
                        runs[side.name][name].append(
                            drive_once(sim, side, name, table[name], answers[name])
                        )
        if RUNNER_SIDE in sides:
            for name in scenarios:
                if name not in RUNNER_SCENARIOS:
                    refusals[name] = runner_refusal(client(), Tools(tool_seconds), name)
    cells = {
        side: {name: aggregate(per_run) for name, per_run in by.items()}
        for side, by in runs.items()
    }
    return cells, refusals


# -- the whole benchmark --------------------------------------------------------------------------


def run(
    repeats: int,
    scenarios: Iterable[str] = SCENARIOS,
    *,
    profiles: Iterable[str] = PROFILE_NAMES,
    sides: Iterable[str] = SIDES,
    step: float = STEP,
    tool_seconds: float = TOOL_SECONDS,
) -> dict[str, Any]:
    """Run every side on every profile and scenario; the result dict (comparison first)."""
    names, chosen = list(scenarios), list(sides)
    unknown = sorted((set(names) - set(SCENARIOS)) | (set(chosen) - set(SIDES)))
    if unknown:
        raise ValueError(f"unknown scenarios or sides: {unknown}")
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    measured: dict[str, dict[str, dict[str, Any]]] = {}
    refused: dict[str, dict[str, Any]] = {}
    started = time.perf_counter()
    for profile in profiles:
        measured[profile], refused[profile] = run_profile(
            profile, chosen, names, repeats, step=step, tool_seconds=tool_seconds
        )
    return {
        "benchmark": "chains",
        "comparison": comparison(measured),
        "failures": failures(measured),
        "settings": {
            "transport": (
                "uvicorn on 127.0.0.1 (real sockets); every side its own openai client with the "
                "SDK's defaults (the controllers use it with max_retries=0)"
            ),
            "profiles": list(measured),
            "scenarios": names,
            "sides": chosen,
            "baseline": BASELINE,
            "loops": {k: f"sleep {v:g} s, then retrieve" for k, v in LOOPS.items()},
            "controller": "ResponseController / AsyncResponseController, default ControllerConfig",
            "sdk_runner": "openai.lib.responses_tool_runner.ResponsesToolRunner, foreground",
            "step_seconds": step,
            "tool_seconds": tool_seconds,
            "repeats": repeats,
            "warm_up_runs_per_side": 1,
            "sides_alternate": True,
            "seconds": time.perf_counter() - started,
            "load_average_1m_before": load_before,
        },
        "profiles": measured,
        "not_comparable": {
            p: {s: {"side": RUNNER_SIDE, **r} for s, r in by.items()} for p, by in refused.items()
        },
        "environment": environment(),
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; exit 1 when a side did not complete with the same answer."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run per cell, 10 ms steps")
    parser.add_argument("--scenarios", type=str, default=",".join(SCENARIOS))
    parser.add_argument("--profiles", type=str, default=",".join(PROFILE_NAMES))
    parser.add_argument("--sides", type=str, default=",".join(SIDES))
    parser.add_argument("--repeats", type=int, default=None, help="runs per cell (default 5)")
    parser.add_argument("--step", type=float, default=None, help="seconds per scenario step")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/chains.json"))
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 5)
    scenarios, profiles, sides = (
        [n for n in text.split(",") if n] for text in (args.scenarios, args.profiles, args.sides)
    )
    bad = unknown_names(
        {
            "scenario": (scenarios, SCENARIOS),
            "profile": (profiles, PROFILES),
            "side": (sides, SIDES),
        }
    )
    if bad is not None:
        print(f"bench_chains: {bad}", file=sys.stderr)
        return 2
    result = run(
        repeats,
        scenarios,
        profiles=profiles,
        sides=sides,
        step=args.step if args.step is not None else (0.01 if args.quick else STEP),
        tool_seconds=0.01 if args.quick else TOOL_SECONDS,
    )
    write_result(args.out, result, sort_keys=False)
    print(format_per_side(result))
    print()
    print(format_table(result))
    for profile, by in result["not_comparable"].items():
        for scenario, what in by.items():
            print(f"{profile}/{scenario}/{RUNNER_SIDE}: not comparable: {what.get('cause')}")
    if result["failures"]:
        print("CHAINS BENCHMARK FAILED: sides did not all complete with the same answer:")
        for line in result["failures"]:
            print(f"  {line}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
