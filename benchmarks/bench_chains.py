"""Responses background chains: our controllers vs what a user would otherwise write.

A run that uses tools on the Responses API is a **chain** of background responses: create one
(``background=True``), poll it with ``retrieve``, run the ``function_call`` items it completes
with, create the next response with ``previous_response_id`` and one ``function_call_output`` per
call, until a response completes without calls. The SDK has no poll helper for responses, and its
own tool runner refuses ``background``. This benchmark drives the same chains every way, side by
side, in ONE run: one process, one :class:`~adapters.simulator.Simulator` per server profile
served by uvicorn on loopback (real sockets), every side with its own real ``openai`` client
(``max_retries=0``).

Sides:

* ``controller-sync`` = ``ResponseController(client, tools=registry).run(...)`` (polling, the
  default :class:`ControllerConfig`);
* ``controller-async`` = ``AsyncResponseController(async_client, tools=registry).run(...)``
  (polling; one event loop for the whole profile, ``asyncio.Runner``);
* ``controller-stream`` = ``ResponseController(..., stream=True)``;
* ``loop-1s`` / ``loop-0.25s`` = **the hand-written SDK loop** a careful user writes without us
  (:func:`hand_loop`): ``client.responses.create(background=True, ...)``, then, as in the API's
  background-mode guide, ``while status in (queued, in_progress): sleep(interval); retrieve``;
  run the function calls (one after another), create the next response with
  ``previous_response_id`` and the ``function_call_output`` items, repeating ``model``,
  ``instructions``, ``tools`` and ``metadata``. ``loop-1s`` (a fixed 1 s sleep) is the typical
  loop, and the baseline of the ratios; ``loop-0.25s`` is a tighter one. Neither reads
  ``openai-poll-after-ms`` (the SDK's typed ``retrieve`` does not show headers);
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
and ``two-rounds`` (two), each server step lasting ``--step`` (50 ms), each tool call
``--tool-seconds`` (0.2 s), picked with ``metadata={"scenario": name}``.

The sides take turns (each repeat drives one chain per side, the first side rotating), after one
warm-up chain per side. Measured per chain: **requests** (the simulator's request log; chains are
driven one at a time, so the window is exact), **wall time** (first create to final answer),
**client CPU** (process CPU minus the simulator's server thread). Checked for every chain, and the
benchmark exits 1 otherwise: the chain completed, with the expected final answer (the same for
every side), every tool call ran exactly once and its output reached the server once, every create
of a background side was ``background=True``, and the chain had the expected length.

Usage: ``python -m benchmarks.bench_chains [--quick] [--repeats N] [--profiles a,b]
[--scenarios a,b] [--out PATH]`` (default ``benchmarks/results/chains.json``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import openai
from pydantic import BaseModel, ConfigDict

from adapters.simulator import SCENARIOS as SHIPPED_SCENARIOS
from adapters.simulator import CallTools, Hang, Scenario, Simulator, SimulatorServer
from adapters.simulator.scenarios import Step
from benchmarks._common import environment, write_result
from benchmarks._observe import summary, thread_cpu
from lifecycle import ToolRegistry

__all__ = ["BASELINE", "PROFILE_NAMES", "SCENARIOS", "SIDES", "hand_loop", "main", "run"]

API_KEY = "sk-sim-bench"
MODEL = "sim-model"
QUESTION = "What does my order cost?"
INSTRUCTIONS = "Answer briefly."
STEP = 0.05  # seconds per scenario step on the server (as in bench_e2e)
TOOL_SECONDS = 0.2  # seconds per tool call (as in bench_e2e)
LOOP_GUARD_S = 120.0  # the hand-written loop gives up after this (never reached in practice)

#: the server profiles, the two without a header on create first
PROFILE_NAMES: tuple[str, ...] = ("get-only-poll-after", "no-poll-after", "reference")
SCENARIOS: tuple[str, ...] = ("text", "order-total", "two-rounds")
#: every side, in its starting order
SIDES: tuple[str, ...] = (
    "controller-sync",
    "controller-async",
    "controller-stream",
    "loop-1s",
    "loop-0.25s",
    "sdk-runner-fg",
)
#: the hand-written loops and their fixed sleep; the first is the typical one, the baseline
LOOPS: dict[str, float] = {"loop-1s": 1.0, "loop-0.25s": 0.25}
BASELINE = "loop-1s"
RUNNER_SIDE = "sdk-runner-fg"
#: the scenarios where the foreground runner does the same work as a chain on the simulator
RUNNER_SCENARIOS: frozenset[str] = frozenset({"text"})
SERVER_THREAD = "simulator-server"


# -- the tools (the same for every side) ------------------------------------------------------

PRICES = {"books": 12.5, "stationery": 3.0, "electronics": 99.0}


class OrderItem(BaseModel):
    """One line of an order."""

    model_config = ConfigDict(extra="forbid")
    item_type: str
    quantity: int


@dataclass
class Tools:
    """The tools the scenarios call; each blocks ``seconds`` (an HTTP call, a query) and counts
    its executions. Outputs are strings, so every side sends the server the same bytes."""

    seconds: float = TOOL_SECONDS
    executions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _work(self) -> None:
        with self._lock:
            self.executions += 1
        threading.Event().wait(self.seconds)

    def calculate_order_total(self, items: Sequence[dict[str, Any]]) -> str:
        """The order's total, two decimals."""
        self._work()
        return f"{sum(PRICES[i['item_type']] * i['quantity'] for i in items):.2f}"

    def lookup_prices(self, item_types: Sequence[str]) -> str:
        """The unit prices of ``item_types``, as JSON."""
        self._work()
        return json.dumps({t: PRICES[t] for t in item_types}, sort_keys=True)

    def functions(self) -> dict[str, Callable[..., str]]:
        """The tools by name, called with the call's JSON arguments as keywords."""
        return {
            "calculate_order_total": self.calculate_order_total,
            "lookup_prices": self.lookup_prices,
        }


def make_registry(tools: Tools) -> ToolRegistry:
    """Our registry with the two tools (arguments validated by their signatures)."""
    registry = ToolRegistry()

    @registry.tool
    def calculate_order_total(items: list[OrderItem]) -> str:
        """Compute the total price of an order.

        Args:
            items: the items ordered, each an item type and a quantity.
        """
        return tools.calculate_order_total([i.model_dump() for i in items])

    @registry.tool
    def lookup_prices(item_types: list[str]) -> str:
        """Look up unit prices.

        Args:
            item_types: the item types to price.
        """
        return tools.lookup_prices(item_types)

    return registry


#: the tools as a user declares them by hand for ``responses.create`` (the Responses shape)
TOOL_DEFINITIONS: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "calculate_order_total",
        "description": "Compute the total price of an order.",
        "parameters": {
            "type": "object",
            "properties": {
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "item_type": {"type": "string"},
                            "quantity": {"type": "integer"},
                        },
                        "required": ["item_type", "quantity"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["items"],
            "additionalProperties": False,
        },
        "strict": True,
    },
    {
        "type": "function",
        "name": "lookup_prices",
        "description": "Look up unit prices.",
        "parameters": {
            "type": "object",
            "properties": {"item_types": {"type": "array", "items": {"type": "string"}}},
            "required": ["item_types"],
            "additionalProperties": False,
        },
        "strict": True,
    },
]


def make_scenarios(step: float = STEP) -> dict[str, Scenario]:
    """The simulator's own scenarios, each step lasting ``step`` seconds."""
    return {
        name: dataclasses.replace(
            SHIPPED_SCENARIOS[name],
            steps=tuple(_lasting(s, step) for s in SHIPPED_SCENARIOS[name].steps),
        )
        for name in SCENARIOS
    }


def _lasting(step: Step, seconds: float) -> Step:
    """``step`` lasting ``seconds`` (a ``Hang`` lasts forever)."""
    return step if isinstance(step, Hang) else dataclasses.replace(step, seconds=seconds)


#: the order the scenarios' calculate_order_total call carries
SHIPPED_ORDER: dict[str, Any] = json.loads(
    next(
        c.arguments
        for s in SHIPPED_SCENARIOS["order-total"].steps
        if isinstance(s, CallTools)
        for c in s.calls
    )
)


def expected_answers() -> dict[str, str]:
    """The final answer every side must end with, per scenario (from the tools' outputs)."""
    tools = Tools(0.0)
    order = SHIPPED_ORDER["items"]
    total = tools.calculate_order_total(order)
    prices = tools.lookup_prices(["books"])
    return {
        "text": "Hello! How can I help you today?",
        "order-total": f"The total price of your order is {total}.",
        "two-rounds": f"After two rounds: {prices}, {total}.",
    }


# -- the sides ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ended:
    """How one chain ended, as its side saw it."""

    status: str
    answer: str
    response_ids: tuple[str, ...]


Driver = Callable[[str], Ended]
"""Drive one chain of the named scenario to its end."""


def hand_loop(
    client: openai.OpenAI,
    *,
    interval: float,
    functions: dict[str, Callable[..., str]],
    model: str,
    input: str,
    instructions: str,
    metadata: dict[str, str],
) -> Ended:
    """The loop a careful user writes with the SDK alone: background create, sleep-then-retrieve
    polling at a fixed ``interval``, the calls run one after another, the next response created
    with ``previous_response_id`` and one ``function_call_output`` per call."""
    common: dict[str, Any] = {
        "model": model,
        "instructions": instructions,
        "tools": TOOL_DEFINITIONS,
        "metadata": metadata,
        "background": True,
    }
    response = client.responses.create(input=input, **common)
    ids = [response.id]
    give_up = time.monotonic() + LOOP_GUARD_S
    while True:
        while response.status in ("queued", "in_progress"):
            if time.monotonic() > give_up:
                raise TimeoutError(f"response {response.id} still {response.status}")
            time.sleep(interval)
            response = client.responses.retrieve(response.id)
        calls = [item for item in response.output if item.type == "function_call"]
        if response.status != "completed" or not calls:
            return Ended(str(response.status), response.output_text, tuple(ids))
        outputs: list[Any] = [
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": functions[call.name](**json.loads(call.arguments)),
            }
            for call in calls
        ]
        response = client.responses.create(
            previous_response_id=response.id, input=outputs, **common
        )
        ids.append(response.id)


def loop_driver(client: openai.OpenAI, tools: Tools, interval: float) -> Driver:
    """A hand-written loop side."""
    functions = tools.functions()

    def drive(scenario: str) -> Ended:
        return hand_loop(
            client,
            interval=interval,
            functions=functions,
            model=MODEL,
            input=QUESTION,
            instructions=INSTRUCTIONS,
            metadata={"scenario": scenario},
        )

    return drive


def controller_driver(client: openai.OpenAI, tools: Tools, *, stream: bool) -> Driver:
    """``ResponseController`` (polling or streaming), default config."""
    from adapters.openai import ResponseController

    controller = ResponseController(client, tools=make_registry(tools), stream=stream)

    def drive(scenario: str) -> Ended:
        out = controller.run(
            model=MODEL,
            input=QUESTION,
            instructions=INSTRUCTIONS,
            metadata={"scenario": scenario},
        )
        return Ended(str(out.status), out.output_text, tuple(out.response_ids))

    return drive


class AsyncSide:
    """``AsyncResponseController`` on one event loop kept for the whole profile."""

    def __init__(self, base_url: str, tools: Tools) -> None:
        from adapters.openai import AsyncResponseController

        self.loop = asyncio.Runner()
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=API_KEY, max_retries=0)
        self.controller = AsyncResponseController(self.client, tools=make_registry(tools))

    def drive(self, scenario: str) -> Ended:
        """Drive one chain on the side's loop."""
        out = self.loop.run(
            self.controller.run(
                model=MODEL,
                input=QUESTION,
                instructions=INSTRUCTIONS,
                metadata={"scenario": scenario},
            )
        )
        return Ended(str(out.status), out.output_text, tuple(out.response_ids))

    def close(self) -> None:
        """Close the client on its loop, then the loop."""
        self.loop.run(self.client.close())
        self.loop.close()


def runner_driver(client: openai.OpenAI, tools: Tools) -> Driver:
    """The SDK's ``ResponsesToolRunner``, foreground (the only mode it accepts)."""
    from openai.lib.responses_tool_runner import RegisteredFunction, ResponsesToolRunner

    functions = tools.functions()

    def executor(name: str) -> Callable[[dict[str, Any]], str]:
        return lambda args: functions[name](**args)

    registered = [
        RegisteredFunction(tool=cast(Any, definition), execute=executor(definition["name"]))
        for definition in TOOL_DEFINITIONS
    ]
    runner = ResponsesToolRunner(functions=registered)

    def drive(scenario: str) -> Ended:
        response = runner.run(
            client,
            {
                "model": MODEL,
                "input": QUESTION,
                "instructions": INSTRUCTIONS,
                "metadata": {"scenario": scenario},
            },
        )
        return Ended(str(response.status), response.output_text, (response.id,))

    return drive


@dataclass
class Side:
    """One side on one profile: its client(s), its tools and its driver."""

    name: str
    tools: Tools
    drive: Driver


# -- one chain ------------------------------------------------------------------------------------


def classify(method: str, path: str) -> str:
    """The kind of a ``/v1/responses`` request, from its method and path."""
    parts = [p for p in path.split("/") if p]
    if parts[:2] != ["v1", "responses"]:
        return "other"
    if len(parts) == 2:
        return "create" if method == "POST" else "other"
    if len(parts) == 3:
        return "retrieve" if method == "GET" else "delete" if method == "DELETE" else "other"
    return {"cancel": "cancel", "input_items": "input_items"}.get(parts[3], "other")


def check_chain(
    sim: Simulator, ended: Ended, scenario: Scenario, answer: str, background: bool
) -> list[str]:
    """What is wrong with one chain, as the server saw it (empty when nothing)."""
    rounds = [s for s in scenario.steps if isinstance(s, CallTools)]
    problems: list[str] = []
    if ended.status != "completed":
        problems.append(f"status {ended.status}")
    if ended.answer != answer:
        problems.append(f"answer {ended.answer!r}, expected {answer!r}")
    chain = sim.response_chain(ended.response_ids[-1])
    if [e.response_id for e in chain] != list(ended.response_ids):
        problems.append("the side's response ids are not the server's chain")
    expected_len = len(rounds) + 1 if background else 1
    if len(chain) != expected_len:
        problems.append(f"{len(chain)} responses, expected {expected_len}")
    if any(e.background != background for e in chain):
        problems.append(f"a response with background != {background}")
    if background:
        delivered = [len(e.outputs) for e in chain[1:]]
        if delivered != [len(r.calls) for r in rounds]:
            problems.append(f"outputs per response {delivered}")
        if any(len(e.answered_by) > 1 for e in chain):
            problems.append("a response answered twice")
    return problems


def _status_at(history: Sequence[tuple[str, float]], at: float) -> str:
    """The status a response had at server time ``at``."""
    status = history[0][0]
    for changed_to, changed_at in history:
        if changed_at <= at:
            status = changed_to
    return status


def polls_nothing_new(sim: Simulator, requests: Sequence[Any], ids: Sequence[str]) -> int:
    """GETs of a response that found the status its client already knew (from the create's
    answer or the previous GET): the polls that could have been skipped."""
    histories = {i: sim.response_history(i) for i in ids}
    known = {i: _status_at(h, h[0][1]) for i, h in histories.items()}
    count = 0
    for r in requests:
        response_id = r.path.rsplit("/", 1)[-1]
        if r.method != "GET" or response_id not in histories:
            continue
        seen = _status_at(histories[response_id], r.time)
        count += seen == known[response_id]
        known[response_id] = seen
    return count


def drive_once(
    sim: Simulator, side: Side, name: str, scenario: Scenario, answer: str
) -> dict[str, Any]:
    """Drive one chain; its numbers and checks."""
    first_request = len(sim.requests)
    executions = side.tools.executions
    server_cpu0 = thread_cpu(SERVER_THREAD)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    ended = side.drive(name)
    wall = time.perf_counter() - wall0
    cpu = (time.process_time() - cpu0) - (thread_cpu(SERVER_THREAD) - server_cpu0)
    requests = sim.requests[first_request:]
    kinds: dict[str, int] = {}
    for r in requests:
        kind = classify(r.method, r.path)
        kinds[kind] = kinds.get(kind, 0) + 1
    calls = sum(len(s.calls) for s in scenario.steps if isinstance(s, CallTools))
    background = side.name != RUNNER_SIDE
    problems = check_chain(sim, ended, scenario, answer, background)
    ran = side.tools.executions - executions
    if ran != calls:
        problems.append(f"{ran} tool executions, expected {calls}")
    t0 = requests[0].time if requests else 0.0
    return {
        "status": ended.status,
        "answer": ended.answer,
        "problems": problems,
        "responses": len(ended.response_ids),
        "requests": len(requests),
        "requests_by_kind": kinds,
        "wall_s": wall,
        "client_cpu_ms": cpu * 1000,
        "tool_executions": ran,
        "polls_nothing_new": polls_nothing_new(sim, requests, ended.response_ids),
        # when each request reached the server, from the chain's first request (server clock)
        "timeline": [[classify(r.method, r.path), round(r.time - t0, 4)] for r in requests],
    }


def aggregate(per_run: list[dict[str, Any]]) -> dict[str, Any]:
    """One cell (profile x scenario x side): checks, medians and ranges."""
    kinds = sorted({k for r in per_run for k in r["requests_by_kind"]})
    return {
        "runs": len(per_run),
        "ok": all(not r["problems"] for r in per_run),
        "problems": sorted({p for r in per_run for p in r["problems"]}),
        "answer": per_run[0]["answer"] if per_run else None,
        "responses_per_chain": per_run[0]["responses"] if per_run else None,
        "wall_s": summary([r["wall_s"] for r in per_run]),
        "requests_per_run": summary([r["requests"] for r in per_run]),
        "requests_by_kind": {
            k: statistics.median(r["requests_by_kind"].get(k, 0) for r in per_run) for k in kinds
        },
        "client_cpu_ms": summary([r["client_cpu_ms"] for r in per_run]),
        "polls_nothing_new": summary([r["polls_nothing_new"] for r in per_run]),
        "per_run": per_run,
    }


# -- one profile ----------------------------------------------------------------------------------


def runner_refusal(client: openai.OpenAI, tools: Tools, scenario: str) -> dict[str, Any]:
    """Try the foreground runner once on a tool scenario: what happens (not timed)."""
    try:
        response = runner_driver(client, tools)(scenario)
    except Exception as exc:  # the benchmark records what the runner raised
        cause = exc.__context__ or exc.__cause__
        return {
            "comparable": False,
            "raised": f"{type(exc).__name__}: {exc}",
            "cause": f"{type(cause).__name__}: {cause}" if cause is not None else None,
        }
    return {"comparable": True, "status": response.status, "answer": response.answer}


def make_side(
    name: str,
    client: Callable[[], openai.OpenAI],
    base_url: str,
    stack: contextlib.ExitStack,
    tool_seconds: float,
) -> Side:
    """One side with its own client (``client()`` makes one, closed with ``stack``) and tools."""
    tools = Tools(tool_seconds)
    if name == "controller-async":
        async_side = AsyncSide(base_url, tools)
        stack.callback(async_side.close)
        return Side(name, tools, async_side.drive)
    if name in LOOPS:
        return Side(name, tools, loop_driver(client(), tools, LOOPS[name]))
    if name == RUNNER_SIDE:
        return Side(name, tools, runner_driver(client(), tools))
    stream = name == "controller-stream"
    return Side(name, tools, controller_driver(client(), tools, stream=stream))


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
            c = openai.OpenAI(base_url=server.base_url, api_key=API_KEY, max_retries=0)
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


# -- comparison -----------------------------------------------------------------------------------


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def _paired(a: list[dict[str, Any]], b: list[dict[str, Any]], key: str) -> float | None:
    """The median of the per-repeat ratios (run ``i`` of both sides ran in the same repeat)."""
    values = [r for x, y in zip(a, b, strict=False) if (r := _ratio(x[key], y[key])) is not None]
    return statistics.median(values) if values else None


def comparison(profiles: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every side's cell against each hand-written loop's cell (same profile and scenario)."""
    rows: list[dict[str, Any]] = []
    for profile, sides in profiles.items():
        for side, cells in sides.items():
            for scenario, cell in cells.items():
                row: dict[str, Any] = {
                    "profile": profile,
                    "scenario": scenario,
                    "side": side,
                    "wall_s": cell["wall_s"]["median"],
                    "requests": cell["requests_per_run"]["median"],
                    "client_cpu_ms": cell["client_cpu_ms"]["median"],
                    "vs": {},
                }
                for loop in LOOPS:
                    base = sides.get(loop, {}).get(scenario)
                    if base is None or loop == side:
                        continue
                    row["vs"][loop] = {
                        "wall": _ratio(cell["wall_s"]["median"], base["wall_s"]["median"]),
                        "wall_paired": _paired(cell["per_run"], base["per_run"], "wall_s"),
                        "requests": _ratio(
                            cell["requests_per_run"]["median"], base["requests_per_run"]["median"]
                        ),
                        "client_cpu": _ratio(
                            cell["client_cpu_ms"]["median"], base["client_cpu_ms"]["median"]
                        ),
                    }
                rows.append(row)
    return rows


def failures(profiles: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Every cell whose checks failed, and every disagreement on the final answer."""
    out: list[str] = []
    for profile, sides in profiles.items():
        answers: dict[str, set[str]] = {}
        for side, cells in sides.items():
            for scenario, cell in cells.items():
                if not cell["ok"]:
                    out.append(f"{profile}/{scenario}/{side}: {'; '.join(cell['problems'])}")
                answers.setdefault(scenario, set()).update(r["answer"] for r in cell["per_run"])
        for scenario, seen in answers.items():
            if len(seen) != 1:
                out.append(f"{profile}/{scenario}: the sides disagree on the answer: {seen}")
    return out


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
            "transport": "uvicorn on 127.0.0.1 (real sockets), openai clients, max_retries=0",
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
    result = run(
        repeats,
        [n for n in args.scenarios.split(",") if n],
        profiles=[p for p in args.profiles.split(",") if p],
        sides=[s for s in args.sides.split(",") if s],
        step=args.step if args.step is not None else (0.01 if args.quick else STEP),
        tool_seconds=0.01 if args.quick else TOOL_SECONDS,
    )
    write_result(args.out, result, sort_keys=False)
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


def _f(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def format_table(result: dict[str, Any]) -> str:
    """Markdown: every cell, with its ratios to both hand-written loops."""
    lines = [
        "| profile | scenario | side | wall s | requests | CPU ms | vs loop-1s: wall / req / CPU "
        "| vs loop-0.25s: wall / req / CPU |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in result["comparison"]:
        ratios = []
        for loop in LOOPS:
            r = row["vs"].get(loop)
            ratios.append(
                "-"
                if r is None
                else " / ".join(f"{_f(r[k], '.2f')}x" for k in ("wall", "requests", "client_cpu"))
            )
        lines.append(
            f"| {row['profile']} | {row['scenario']} | {row['side']} | "
            f"{_f(row['wall_s'], '.3f')} | {_f(row['requests'], '.0f')} | "
            f"{_f(row['client_cpu_ms'], '.1f')} | {ratios[0]} | {ratios[1]} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
