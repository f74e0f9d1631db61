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
import json
import logging
import statistics
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import openai
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from adapters.simulator import (
    Answer,
    CallTools,
    Queue,
    Scenario,
    Simulator,
    SimulatorServer,
    ToolCallSpec,
    Work,
)
from benchmarks._common import environment, write_result
from benchmarks._observe import (
    TOOL_NAME,
    TOOL_SECONDS,
    Observations,
    ObservingTransport,
    ToolLog,
    classify,
    detection_latencies,
    make_registry,
    percentile,
    round_spans,
    summary,
    thread_cpu,
)
from benchmarks._schedule_model import WHAT_IF_BACKOFFS, format_model, schedule_model
from lifecycle import RunStatus

__all__ = [
    "SCENARIOS",
    "TOOL_NAME",
    "ToolLog",
    "detection_latencies",
    "main",
    "make_registry",
    "make_scenarios",
    "run",
]

STEP = 0.05  # seconds per scenario step on the server
API_KEY = "sk-sim-bench"

#: the server profiles, headline first
PROFILE_NAMES: tuple[str, ...] = ("get-only-poll-after", "no-poll-after", "reference", "no-sse")
#: where the targets apply, and to which scenarios
TARGET_PROFILES: tuple[str, ...] = ("get-only-poll-after", "no-poll-after")
TARGET_SCENARIOS: tuple[str, ...] = ("text", "one-tool", "two-rounds")
WALL_TARGET = 1.25  # controller wall / sdk wall
REQUESTS_TARGET = 1.0  # controller requests / sdk requests
#: the sides every profile runs, in their starting order
SIDES: tuple[str, ...] = ("sdk", "controller-poll", "controller-stream")
WHAT_IF_PROFILE = "no-poll-after"
FALLBACK_MESSAGE = "no stream; polling instead"


def _calls(*labels: str) -> tuple[ToolCallSpec, ...]:
    return tuple(ToolCallSpec.of(TOOL_NAME, {"label": label}) for label in labels)


def make_scenarios(step: float = STEP) -> dict[str, Scenario]:
    """The benchmark scenarios (each server-side step lasts ``step`` seconds), by name."""
    return {
        "text": Scenario((Queue(step), Work(step), Answer("Hello!", step))),
        "one-tool": Scenario(
            (Queue(step), CallTools(_calls("a"), step), Answer("{outputs}", step))
        ),
        "two-rounds": Scenario(
            (
                Queue(step),
                CallTools(_calls("a"), step),
                Queue(step),
                CallTools(_calls("b"), step),
                Answer("{outputs}", step),
            )
        ),
        "parallel-3": Scenario(
            (Queue(step), CallTools(_calls("a", "b", "c"), step), Answer("{outputs}", step))
        ),
    }


#: The scenario names, in the order they are run.
SCENARIOS: tuple[str, ...] = tuple(make_scenarios())


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


# -- the drivers ----------------------------------------------------------------------------------

Driver = Callable[[openai.OpenAI, str, str], str]
"""Drive one run on ``(client, thread_id, assistant_id)`` to its end; return the run id."""


def sdk_driver(log: ToolLog) -> Driver:
    """The SDK loop as a user writes it, default poll settings: ``create_and_poll``, tools run
    one after another, ``submit_tool_outputs_and_poll``, then the run's messages."""
    tools = {TOOL_NAME: log.sync_tool}

    def drive(client: openai.OpenAI, thread_id: str, assistant_id: str) -> str:
        runs = client.beta.threads.runs
        run = runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
        while RunStatus(run.status) is RunStatus.REQUIRES_ACTION and run.required_action:
            outputs: list[ToolOutput] = []
            for call in run.required_action.submit_tool_outputs.tool_calls:
                result = tools[call.function.name](**json.loads(call.function.arguments))
                outputs.append({"tool_call_id": call.id, "output": result})
            run = runs.submit_tool_outputs_and_poll(
                thread_id=thread_id, run_id=run.id, tool_outputs=outputs
            )
        client.beta.threads.messages.list(thread_id=thread_id, run_id=run.id)
        return run.id

    return drive


def controller_driver(log: ToolLog, *, stream: bool, config: Any = None) -> Driver:
    """Our :class:`RunController` (polling or streaming; default config unless given)."""
    from adapters.openai import RunController

    registry = make_registry(log)

    def drive(client: openai.OpenAI, thread_id: str, assistant_id: str) -> str:
        controller = RunController(client, tools=registry, stream=stream, config=config)
        outcome = controller.run(thread_id=thread_id, assistant_id=assistant_id)
        return str(outcome.run_id)

    return drive


def what_if_side(backoff: float) -> str:
    """The name of a what-if side."""
    return f"controller-poll[first_poll_backoff_s={backoff:g}]"


def make_driver(side: str, log: ToolLog) -> Driver:
    """The driver of a side, by name."""
    if side == "sdk":
        return sdk_driver(log)
    if side == "controller-poll":
        return controller_driver(log, stream=False)
    if side == "controller-stream":
        return controller_driver(log, stream=True)
    for backoff in WHAT_IF_BACKOFFS:
        if side == what_if_side(backoff):
            from adapters.openai import ControllerConfig

            return controller_driver(
                log, stream=False, config=ControllerConfig(first_poll_backoff_s=backoff)
            )
    raise ValueError(f"unknown side {side!r}")


class FallbackCounter(logging.Handler):
    """Counts the controller's "no stream; polling instead" notices (and keeps its log quiet)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record if it is a stream fallback."""
        if record.msg == FALLBACK_MESSAGE:
            self.count += 1


@contextlib.contextmanager
def counting_fallbacks() -> Iterator[FallbackCounter]:
    """Attach a :class:`FallbackCounter` to the controller's logger for a ``with`` block."""
    from adapters.openai._logging import LOGGER_NAME

    counter = FallbackCounter()
    log = logging.getLogger(LOGGER_NAME)
    log.addHandler(counter)
    try:
        yield counter
    finally:
        log.removeHandler(counter)


# -- one run --------------------------------------------------------------------------------------


@dataclass
class Bench:
    """A simulator served on loopback, and a client factory that observes the wire."""

    server: SimulatorServer
    obs: Observations = field(default_factory=Observations)

    @property
    def sim(self) -> Simulator:
        """The served simulator."""
        return self.server.sim

    def client(self) -> openai.OpenAI:
        """A real ``openai`` client over loopback HTTP, watched by :class:`ObservingTransport`."""
        transport = ObservingTransport(httpx2.HTTPTransport(), self.obs)
        return openai.OpenAI(
            base_url=self.server.base_url,
            api_key=API_KEY,
            max_retries=0,
            http_client=httpx2.Client(transport=transport, timeout=30.0),
        )


@dataclass
class Side:
    """One side on one profile: its client, its tool log and its driver."""

    name: str
    client: openai.OpenAI
    log: ToolLog
    driver: Driver


def drive_once(
    bench: Bench, side: Side, assistant_id: str, fallbacks: FallbackCounter, rounds: int
) -> dict[str, Any]:
    """Drive one run on a fresh thread; its numbers."""
    sim, client, log = bench.sim, side.client, side.log
    thread = client.beta.threads.create()
    client.beta.threads.messages.create(thread_id=thread.id, role="user", content="go")
    first_request = len(sim.requests)
    spans_before = len(log.spans)
    executions_before = log.executions
    fallbacks_before = fallbacks.count
    server_cpu0 = thread_cpu("simulator-server")
    cpu0, wall0 = time.process_time(), time.perf_counter()
    run_id = side.driver(client, thread.id, assistant_id)
    wall = time.perf_counter() - wall0
    cpu = (time.process_time() - cpu0) - (thread_cpu("simulator-server") - server_cpu0)
    kinds: dict[str, int] = {}
    for r in sim.requests[first_request:]:
        kind = classify(r.method, r.path)
        kinds[kind] = kinds.get(kind, 0) + 1
    history = sim.run_history(run_id)
    every, actionable, missed = detection_latencies(history, bench.obs.for_run(run_id))
    submitted = [o.output for rnd in sim.tool_outputs(run_id) for o in rnd]
    return {
        "final_status": str(history[-1][0]),
        "requests": sum(kinds.values()),
        "requests_by_kind": kinds,
        "wall_s": wall,
        "client_cpu_ms": cpu * 1000,
        "detection_s": every,
        "actionable_detection_s": actionable,
        "missed_changes": missed,
        "stream_fallbacks": fallbacks.count - fallbacks_before,
        "tool_executions": log.executions - executions_before,
        "tool_outputs_submitted": len(submitted),
        "tool_outputs_distinct": len(set(submitted)),
        "round_spans_s": round_spans(log.spans[spans_before:], rounds),
    }


def aggregate(per_run: list[dict[str, Any]], scenario: Scenario) -> dict[str, Any]:
    """One cell (profile x scenario x side): the checks, medians and ranges of its runs."""
    rounds = sum(isinstance(s, CallTools) for s in scenario.steps)
    calls = sum(len(s.calls) for s in scenario.steps if isinstance(s, CallTools))
    lat_all = [x for r in per_run for x in r["detection_s"]]
    lat_act = [x for r in per_run for x in r["actionable_detection_s"]]
    spans = [s for r in per_run for s in r["round_spans_s"]]
    return {
        "runs": len(per_run),
        "tool_calls_per_run": calls,
        "rounds": rounds,
        "all_completed": all(r["final_status"] == RunStatus.COMPLETED for r in per_run),
        "tools_exactly_once": all(
            r["tool_executions"]
            == r["tool_outputs_submitted"]
            == r["tool_outputs_distinct"]
            == calls
            for r in per_run
        ),
        "stream_fallbacks": sum(r["stream_fallbacks"] for r in per_run),
        "wall_s": summary([r["wall_s"] for r in per_run]),
        "requests_per_run": summary([r["requests"] for r in per_run]),
        "requests_by_kind": per_run[0]["requests_by_kind"] if per_run else {},
        "detection_ms": {
            "p50": _ms(percentile(lat_all, 0.5)),
            "p99": _ms(percentile(lat_all, 0.99)),
            "actionable_p50": _ms(percentile(lat_act, 0.5)),
            "actionable_p99": _ms(percentile(lat_act, 0.99)),
            "samples": len(lat_all),
            "missed_changes": sum(r["missed_changes"] for r in per_run),
        },
        "client_cpu_ms": summary([r["client_cpu_ms"] for r in per_run]),
        "tool_round_span_s": summary(spans),
        "per_run": [
            {k: v for k, v in r.items() if k not in ("detection_s", "actionable_detection_s")}
            for r in per_run
        ],
    }


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


# -- comparison -----------------------------------------------------------------------------------


def _paired(ctl: list[dict[str, Any]], sdk: list[dict[str, Any]], key: str) -> float | None:
    """The median of the per-repeat ratios (runs ``i`` of both sides ran back to back)."""
    pairs = [_ratio(c[key], s[key]) for c, s in zip(ctl, sdk, strict=False)]
    values = [p for p in pairs if p is not None]
    return statistics.median(values) if values else None


def compare_cell(ctl: dict[str, Any], sdk: dict[str, Any]) -> dict[str, Any]:
    """A controller cell against the SDK's cell of the same profile and scenario."""
    return {
        "wall": _ratio(ctl["wall_s"]["median"], sdk["wall_s"]["median"]),
        "wall_paired": _paired(ctl["per_run"], sdk["per_run"], "wall_s"),
        "requests": _ratio(ctl["requests_per_run"]["median"], sdk["requests_per_run"]["median"]),
        "detection_actionable_p50": _ratio(
            ctl["detection_ms"]["actionable_p50"], sdk["detection_ms"]["actionable_p50"]
        ),
        "client_cpu": _ratio(ctl["client_cpu_ms"]["median"], sdk["client_cpu_ms"]["median"]),
    }


def headline(profiles: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The poll-schedule comparison: every controller side vs the SDK loop, per profile and
    scenario, with the targets' verdicts where they apply."""
    rows: list[dict[str, Any]] = []
    for profile, sides in profiles.items():
        sdk = sides.get("sdk", {})
        for side, cells in sides.items():
            if side == "sdk":
                continue
            for scenario, cell in cells.items():
                base = sdk.get(scenario)
                if base is None:
                    continue
                ratios = compare_cell(cell, base)
                targeted = profile in TARGET_PROFILES and scenario in TARGET_SCENARIOS
                row: dict[str, Any] = {
                    "profile": profile,
                    "scenario": scenario,
                    "side": side,
                    "wall_s": cell["wall_s"]["median"],
                    "sdk_wall_s": base["wall_s"]["median"],
                    "requests": cell["requests_per_run"]["median"],
                    "sdk_requests": base["requests_per_run"]["median"],
                    "ratios": ratios,
                    "targeted": targeted,
                }
                if targeted:
                    row["wall_ok"] = ratios["wall"] is not None and ratios["wall"] <= WALL_TARGET
                    row["requests_ok"] = (
                        ratios["requests"] is not None and ratios["requests"] <= REQUESTS_TARGET
                    )
                rows.append(row)
    verdicts: dict[str, Any] = {}
    for side in {r["side"] for r in rows}:
        targeted = [r for r in rows if r["side"] == side and r["targeted"]]
        if targeted:
            verdicts[side] = {
                "wall_ok": all(r["wall_ok"] for r in targeted),
                "requests_ok": all(r["requests_ok"] for r in targeted),
                "missed": [
                    f"{r['profile']}/{r['scenario']}: "
                    + ", ".join(
                        f"{k} {r['ratios'][k]:.2f}x"
                        for k, ok in (("wall", r["wall_ok"]), ("requests", r["requests_ok"]))
                        if not ok
                    )
                    for r in targeted
                    if not (r["wall_ok"] and r["requests_ok"])
                ],
            }
    return {
        "targets": {
            "profiles": list(TARGET_PROFILES),
            "scenarios": list(TARGET_SCENARIOS),
            "wall": f"controller / sdk <= {WALL_TARGET}",
            "requests": f"controller / sdk <= {REQUESTS_TARGET}",
        },
        "verdicts": dict(sorted(verdicts.items())),
        "rows": rows,
    }


def parallel_ratios(profiles: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Tool round span of ``parallel-3`` / ``one-tool`` per profile and side (target <= 1.25)."""
    out: dict[str, Any] = {"target": 1.25}
    for profile, sides in profiles.items():
        for side, cells in sides.items():
            one = cells.get("one-tool", {}).get("tool_round_span_s", {}).get("median")
            three = cells.get("parallel-3", {}).get("tool_round_span_s", {}).get("median")
            if one is not None and three is not None:
                out[f"{profile}/{side}"] = _ratio(three, one)
    return out


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
    result = run(
        repeats,
        scenarios=[n for n in args.scenarios.split(",") if n],
        tool_seconds=0.01 if args.quick else TOOL_SECONDS,
        step=step,
        profiles=[p for p in args.profiles.split(",") if p],
        what_if=args.what_if,
    )
    write_result(args.out, result, sort_keys=False)
    print(format_headline(result))
    print()
    print(format_table(result))
    print()
    print(format_model(result["schedule_model"]))
    return 0


def _f(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_headline(result: dict[str, Any]) -> str:
    """Markdown: the controller/sdk comparison per profile, scenario and side, with verdicts."""
    lines = [
        "| profile | scenario | side | wall s (sdk) | wall ratio | requests (sdk) | "
        "requests ratio | target |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in result["headline"]["rows"]:
        ratios = r["ratios"]
        if r["targeted"]:
            missed = [k for k in ("wall", "requests") if not r[f"{k}_ok"]]
            verdict = "met" if not missed else "MISSED: " + ", ".join(missed)
        else:
            verdict = "-"
        lines.append(
            f"| {r['profile']} | {r['scenario']} | {r['side']} | "
            f"{_f(r['wall_s'], '.3f')} ({_f(r['sdk_wall_s'], '.3f')}) | "
            f"{_f(ratios['wall'], '.2f')}x | "
            f"{_f(r['requests'], '.0f')} ({_f(r['sdk_requests'], '.0f')}) | "
            f"{_f(ratios['requests'], '.2f')}x | {verdict} |"
        )
    return "\n".join(lines)


def format_table(result: dict[str, Any]) -> str:
    """Markdown: every cell's numbers."""
    lines = [
        "| profile | scenario | side | wall s | requests/run | detect p50 / p99 ms | "
        "actionable p50 ms | missed | client CPU ms | tool round s | ok |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for profile, sides in result["profiles"].items():
        for side, cells in sides.items():
            for name, r in cells.items():
                d = r["detection_ms"]
                ok = r["all_completed"] and r["tools_exactly_once"]
                fell_back = f" ({r['stream_fallbacks']} fallbacks)" if r["stream_fallbacks"] else ""
                lines.append(
                    f"| {profile} | {name} | {side} | {_f(r['wall_s']['median'], '.3f')} | "
                    f"{_f(r['requests_per_run']['median'], '.0f')} | "
                    f"{_f(d['p50'], '.1f')} / {_f(d['p99'], '.1f')} | "
                    f"{_f(d['actionable_p50'], '.1f')} | {d['missed_changes']} | "
                    f"{_f(r['client_cpu_ms']['median'], '.1f')} | "
                    f"{_f(r['tool_round_span_s']['median'], '.3f')} | {ok}{fell_back} |"
                )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
