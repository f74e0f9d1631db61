"""End to end: our controller vs the SDK's own polling helpers, same scenarios, same simulator.

Both sides drive the same scenarios against one :class:`~adapters.simulator.Simulator` served by
uvicorn on loopback (real sockets, the real ``openai`` client):

* ``controller``: :class:`adapters.openai.RunController` (its default settings: streaming when
  available, tools of a round run in parallel);
* ``sdk``: ``client.beta.threads.runs.create_and_poll(...)``, then while the run requires action,
  the caller runs each tool call **sequentially** and calls ``submit_tool_outputs_and_poll(...)``
  (the loop the seed lesson teaches), then lists the thread's messages to read the answer.

Scenarios (``--tool-seconds`` per tool call, 0.2 s by default, equal for every call): ``text``
(no tools), ``one-tool`` (one call; the yardstick for the parallel target), ``parallel-3`` (one
round of three parallel calls), ``two-rounds`` (one call per round, two rounds).

Measured per run:

* **requests**: HTTP requests the simulator received while the run was driven (its request log;
  runs are driven one at a time, so the window is exact), split by kind;
* **detection latency**: for every status change in ``sim.run_history(run_id)`` (server time),
  the first moment the client's HTTP layer received a body (JSON) or SSE event naming that status,
  minus the server's change time. Both times come from ``time.time`` in one process (the simulator
  runs in a thread of this process), so there is no clock skew. The client side is observed by a
  wrapping ``httpx2`` transport, identically for both sides. Changes the client never saw (a poll
  that jumps over ``in_progress``) are counted as ``missed``. ``actionable`` = the changes a
  driver must react to (``spec.stop_polling``: ``requires_action`` and the terminal statuses);
* **wall time** of the drive, and **client CPU** = process CPU minus the CPU of the simulator's
  server thread (``time.pthread_getcpuclockid``), so the simulator's own work is not charged;
* **tool round span**: first tool start to last tool end in a round; ``parallel_ratio`` = the
  ``parallel-3`` span / the ``one-tool`` span (target <= 1.25).

Usage: ``python -m benchmarks.bench_e2e [--quick] [--repeats N] [--out PATH]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import statistics
import threading
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
from lifecycle import ASSISTANTS_RUN, RunStatus, ToolRegistry

TOOL_SECONDS = 0.2
STEP = 0.05  # seconds per scenario step on the server
POLL_AFTER_MS = 20  # the simulator's openai-poll-after-ms header (what both sides honour)
API_KEY = "sk-sim-bench"
TOOL_NAME = "work"

_RUN_PATH = re.compile(r"/threads/(?P<thread>[^/]+)/runs(?:/(?P<run>[^/]+))?(?P<rest>/.*)?$")


def _calls(*labels: str) -> tuple[ToolCallSpec, ...]:
    return tuple(ToolCallSpec.of(TOOL_NAME, {"label": label}) for label in labels)


def make_scenarios(step: float = STEP) -> dict[str, Scenario]:
    """The benchmark scenarios (each server-side step lasts ``step`` seconds), by name."""
    return {
        "text": Scenario((Queue(step), Work(step), Answer("Hello!", step))),
        "one-tool": Scenario(
            (Queue(step), CallTools(_calls("a"), step), Answer("{outputs}", step))
        ),
        "parallel-3": Scenario(
            (Queue(step), CallTools(_calls("a", "b", "c"), step), Answer("{outputs}", step))
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
    }


#: The scenario names, in the order they are run.
SCENARIOS: tuple[str, ...] = tuple(make_scenarios())


def _block(seconds: float) -> None:
    """Stand in for a blocking tool (an HTTP call, a DB query) of a fixed duration."""
    threading.Event().wait(seconds)


# -- tools that count their executions --------------------------------------------------------


@dataclass
class ToolLog:
    """Every tool execution: a serial number and its start/end times (``time.time``).

    The output of execution ``n`` is ``"<label>#<n>"``, so the outputs the server received prove
    which execution each submitted output came from (no duplicate, none lost).
    """

    seconds: float = TOOL_SECONDS
    spans: list[tuple[float, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _serial: int = 0

    def begin(self) -> tuple[int, float]:
        """Count one execution; return its serial number and start time."""
        with self._lock:
            self._serial += 1
            return self._serial, time.time()

    def end(self, start: float) -> None:
        """Record the span of one execution."""
        with self._lock:
            self.spans.append((start, time.time()))

    @property
    def executions(self) -> int:
        """How many executions started."""
        with self._lock:
            return self._serial

    def sync_tool(self, label: str) -> str:
        """The blocking tool body."""
        n, start = self.begin()
        _block(self.seconds)
        self.end(start)
        return f"{label}#{n}"

    async def async_tool(self, label: str) -> str:
        """The async tool body."""
        import anyio

        n, start = self.begin()
        await anyio.sleep(self.seconds)
        self.end(start)
        return f"{label}#{n}"


def make_registry(log: ToolLog, *, use_async: bool = False) -> ToolRegistry:
    """A registry with the one benchmark tool ``work(label)``, sync or async."""
    registry = ToolRegistry()
    if use_async:

        async def work(label: str) -> str:
            """Do a fixed amount of (simulated) work.

            Args:
                label: which call this is.
            """
            return await log.async_tool(label)

        registry.register(work, name=TOOL_NAME)
    else:

        def work_sync(label: str) -> str:
            """Do a fixed amount of (simulated) work.

            Args:
                label: which call this is.
            """
            return log.sync_tool(label)

        registry.register(work_sync, name=TOOL_NAME)
    return registry


# -- observing the client side of the wire ------------------------------------------------------


@dataclass
class Observations:
    """``(run_id, status, time)`` for every run object the client received, in arrival order."""

    seen: list[tuple[str, str, float]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, run_id: str, status: str, at: float) -> None:
        """Record one sighting."""
        with self._lock:
            self.seen.append((run_id, status, at))

    def note_json(self, body: bytes, at: float) -> None:
        """Record the run in a JSON body, if it is one (a run object or a page of runs)."""
        try:
            data = json.loads(body)
        except ValueError:
            return
        if not isinstance(data, dict):
            return
        items = data.get("data") if data.get("object") == "list" else [data]
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and item.get("object") == "thread.run":
                self.add(str(item.get("id")), str(item.get("status")), at)

    def for_run(self, run_id: str) -> list[tuple[str, float]]:
        """The sightings of one run: ``(status, time)``."""
        with self._lock:
            return [(s, t) for r, s, t in self.seen if r == run_id]


class _SseScanner:
    """Finds ``thread.run.*`` events in an SSE byte stream as the chunks arrive."""

    def __init__(self, obs: Observations) -> None:
        self.obs = obs
        self.buffer = b""

    def feed(self, chunk: bytes) -> None:
        at = time.time()
        self.buffer += chunk
        while b"\n\n" in self.buffer:
            raw, self.buffer = self.buffer.split(b"\n\n", 1)
            event, data = "", b""
            for line in raw.splitlines():
                if line.startswith(b"event:"):
                    event = line[6:].strip().decode()
                elif line.startswith(b"data:"):
                    data += line[5:].strip()
            if event.startswith("thread.run.") and not event.startswith("thread.run.step."):
                self.obs.note_json(data, at)


class _ScanningStream(httpx2.SyncByteStream):
    def __init__(self, inner: httpx2.SyncByteStream, scanner: _SseScanner) -> None:
        self.inner = inner
        self.scanner = scanner

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.inner:
            self.scanner.feed(chunk)
            yield chunk

    def close(self) -> None:
        self.inner.close()


class _AsyncScanningStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream, scanner: _SseScanner) -> None:
        self.inner = inner
        self.scanner = scanner

    async def __aiter__(self) -> Any:
        async for chunk in self.inner:
            self.scanner.feed(chunk)
            yield chunk

    async def aclose(self) -> None:
        await self.inner.aclose()


def _is_run_response(request: httpx2.Request) -> bool:
    return _RUN_PATH.search(request.url.path) is not None


class ObservingTransport(httpx2.BaseTransport):
    """Wraps a transport; records every run status the client receives, and when."""

    def __init__(self, inner: httpx2.BaseTransport, obs: Observations) -> None:
        self.inner = inner
        self.obs = obs

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        response = self.inner.handle_request(request)
        if not _is_run_response(request):
            return response
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            assert isinstance(response.stream, httpx2.SyncByteStream)
            response.stream = _ScanningStream(response.stream, _SseScanner(self.obs))
        else:
            body = response.read()
            self.obs.note_json(body, time.time())
        return response

    def close(self) -> None:
        self.inner.close()


class AsyncObservingTransport(httpx2.AsyncBaseTransport):
    """The async twin of :class:`ObservingTransport`."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, obs: Observations) -> None:
        self.inner = inner
        self.obs = obs

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not _is_run_response(request):
            return response
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            assert isinstance(response.stream, httpx2.AsyncByteStream)
            response.stream = _AsyncScanningStream(response.stream, _SseScanner(self.obs))
        else:
            body = await response.aread()
            self.obs.note_json(body, time.time())
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


# -- turning logs into numbers ---------------------------------------------------------------


def detection_latencies(
    history: Sequence[tuple[str, float]], sightings: Sequence[tuple[str, float]]
) -> tuple[list[float], list[float], int]:
    """Match each server-side status change to the first client sighting of it.

    A sighting of status ``s`` at client time ``t`` belongs to the latest change into ``s`` at or
    before ``t``; a change with no sighting is *missed*.

    Returns:
        ``(all_latencies, actionable_latencies, missed)``, latencies in seconds.
    """
    first_seen: dict[int, float] = {}
    for status, at in sightings:
        match = None
        for i, (changed_to, changed_at) in enumerate(history):
            if changed_to == status and changed_at <= at:
                match = i
        if match is not None and match not in first_seen:
            first_seen[match] = at
    every, actionable = [], []
    for i, (status, changed_at) in enumerate(history):
        if i in first_seen:
            every.append(first_seen[i] - changed_at)
            if status in ASSISTANTS_RUN.stop_polling:
                actionable.append(first_seen[i] - changed_at)
    return every, actionable, len(history) - len(first_seen)


def classify(method: str, path: str) -> str:
    """The kind of an API request, from its method and path."""
    m = _RUN_PATH.search(path)
    if m is None:
        return "list_messages" if path.endswith("/messages") and method == "GET" else "other"
    rest = m.group("rest") or ""
    if m.group("run") is None:
        return "create" if method == "POST" else "list_runs"
    if rest == "/submit_tool_outputs":
        return "submit"
    if rest == "/cancel":
        return "cancel"
    if rest.startswith("/steps"):
        return "list_steps"
    return "retrieve" if method == "GET" else "other"


def round_spans(spans: Sequence[tuple[float, float]], rounds: int) -> list[float]:
    """Group tool spans (sorted by start) into ``rounds`` equal rounds; span of each round."""
    ordered = sorted(spans)
    if not ordered or rounds <= 0:
        return []
    per = len(ordered) // rounds
    out = []
    for r in range(rounds):
        chunk = ordered[r * per : (r + 1) * per]
        out.append(max(e for _, e in chunk) - min(s for s, _ in chunk))
    return out


def _thread_cpu(name: str) -> float:
    """CPU seconds used so far by the live thread called ``name`` (0.0 if none)."""
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return 0.0


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def summary(values: Sequence[float]) -> dict[str, float | None]:
    """Median, min and max of a sample (``None`` when empty)."""
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


# -- the two drivers ------------------------------------------------------------------------------

Driver = Callable[[openai.OpenAI, str, str], str]
"""Drive one run on ``(client, thread_id, assistant_id)`` to its end; return the run id."""


def sdk_driver(log: ToolLog) -> Driver:
    """The SDK loop: ``create_and_poll``, tools run one after another, ``..._and_poll`` again."""
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


def controller_driver(log: ToolLog, *, stream: bool) -> Driver | None:
    """Our :class:`RunController` (default config, polling or streaming); ``None`` if absent."""
    try:
        from adapters.openai import RunController
    except ImportError:
        return None
    registry = make_registry(log)

    def drive(client: openai.OpenAI, thread_id: str, assistant_id: str) -> str:
        controller = RunController(client, tools=registry, stream=stream)
        outcome = controller.run(thread_id=thread_id, assistant_id=assistant_id)
        return str(outcome.run_id)

    return drive


# -- one side, one scenario ---------------------------------------------------------------------


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


def measure(
    bench: Bench, driver: Driver, log: ToolLog, scenario: Scenario, name: str, repeats: int
) -> dict[str, Any]:
    """Drive ``repeats`` runs of ``scenario`` one at a time; per-run numbers and their summary."""
    sim = bench.sim
    rounds = sum(isinstance(s, CallTools) for s in scenario.steps)
    calls = sum(len(s.calls) for s in scenario.steps if isinstance(s, CallTools))
    per_run: list[dict[str, Any]] = []
    lat_all: list[float] = []
    lat_act: list[float] = []
    with bench.client() as client:
        assistant = client.beta.assistants.create(model="gpt-sim", metadata={"scenario": name})
        # one warm-up run (connection set-up, imports, first-call caches), not measured
        thread = client.beta.threads.create()
        driver(client, thread.id, assistant.id)
        for _ in range(repeats):
            thread = client.beta.threads.create()
            client.beta.threads.messages.create(thread_id=thread.id, role="user", content="go")
            first_request = len(sim.requests)
            spans_before = len(log.spans)
            executions_before = log.executions
            server_cpu0 = _thread_cpu("simulator-server")
            cpu0, wall0 = time.process_time(), time.perf_counter()
            run_id = driver(client, thread.id, assistant.id)
            wall = time.perf_counter() - wall0
            cpu = (time.process_time() - cpu0) - (_thread_cpu("simulator-server") - server_cpu0)
            kinds: dict[str, int] = {}
            for r in sim.requests[first_request:]:
                kind = classify(r.method, r.path)
                kinds[kind] = kinds.get(kind, 0) + 1
            history = sim.run_history(run_id)
            every, actionable, missed = detection_latencies(history, bench.obs.for_run(run_id))
            lat_all += every
            lat_act += actionable
            submitted = [o.output for rnd in sim.tool_outputs(run_id) for o in rnd]
            per_run.append(
                {
                    "final_status": str(history[-1][0]),
                    "requests": sum(kinds.values()),
                    "requests_by_kind": kinds,
                    "wall_s": wall,
                    "client_cpu_ms": cpu * 1000,
                    "missed_changes": missed,
                    "tool_executions": log.executions - executions_before,
                    "tool_outputs_submitted": len(submitted),
                    "tool_outputs_distinct": len(set(submitted)),
                    "round_spans_s": round_spans(log.spans[spans_before:], rounds),
                }
            )
    spans = [s for r in per_run for s in r["round_spans_s"]]
    return {
        "scenario": name,
        "tool_calls_per_run": calls,
        "rounds": rounds,
        "runs": repeats,
        "all_completed": all(r["final_status"] == RunStatus.COMPLETED for r in per_run),
        "tools_exactly_once": all(
            r["tool_executions"]
            == r["tool_outputs_submitted"]
            == r["tool_outputs_distinct"]
            == calls
            for r in per_run
        ),
        "requests_per_run": summary([r["requests"] for r in per_run]),
        "detection_ms": {
            "p50": _ms(_pct(lat_all, 0.5)),
            "p99": _ms(_pct(lat_all, 0.99)),
            "actionable_p50": _ms(_pct(lat_act, 0.5)),
            "actionable_p99": _ms(_pct(lat_act, 0.99)),
            "samples": len(lat_all),
            "missed_changes": sum(r["missed_changes"] for r in per_run),
        },
        "wall_s": summary([r["wall_s"] for r in per_run]),
        "client_cpu_ms": summary([r["client_cpu_ms"] for r in per_run]),
        "tool_round_span_s": summary(spans),
        "per_run": per_run,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def compare(sides: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Targets, reported not asserted: each controller side vs the SDK, and the parallel ratio."""
    out: dict[str, Any] = {"parallel_ratio": {"target": 1.25}, "vs_sdk": {}}
    for side, by_scenario in sides.items():
        one = by_scenario.get("one-tool", {}).get("tool_round_span_s", {}).get("median")
        three = by_scenario.get("parallel-3", {}).get("tool_round_span_s", {}).get("median")
        out["parallel_ratio"][side] = _ratio(three, one)
    sdk = sides.get("sdk", {})
    for side, by_scenario in sides.items():
        if side == "sdk":
            continue
        per: dict[str, Any] = {}
        for name, c in by_scenario.items():
            s = sdk.get(name)
            if s is None:
                continue
            per[name] = {
                "requests": _ratio(
                    c["requests_per_run"]["median"], s["requests_per_run"]["median"]
                ),
                "detection_p50": _ratio(c["detection_ms"]["p50"], s["detection_ms"]["p50"]),
                "detection_actionable_p50": _ratio(
                    c["detection_ms"]["actionable_p50"], s["detection_ms"]["actionable_p50"]
                ),
                "wall": _ratio(c["wall_s"]["median"], s["wall_s"]["median"]),
                "client_cpu": _ratio(c["client_cpu_ms"]["median"], s["client_cpu_ms"]["median"]),
            }
        out["vs_sdk"][side] = per
    out["targets"] = {"requests": "<= 1.0", "detection_p50": "<= 1.0", "parallel_ratio": "<= 1.25"}
    return out


@contextlib.contextmanager
def loopback_server(sim: Simulator, *, nodelay: bool = True) -> Iterator[SimulatorServer]:
    """Serve ``sim`` on loopback for a ``with`` block; with ``nodelay``, Nagle is off.

    ``SimulatorServer`` binds ``socket.socket(AF_INET, SOCK_STREAM)`` (proto 0), and asyncio only
    sets ``TCP_NODELAY`` on accepted sockets whose proto is ``IPPROTO_TCP``: each response's body
    then waits for the client's delayed ACK (~40 ms per request on Linux). Setting the option on
    the listening socket (Linux copies it to accepted sockets) removes that artefact.
    """
    with SimulatorServer(sim) as server:
        listening = getattr(server, "_socket", None)
        if nodelay and isinstance(listening, socket.socket):
            listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        yield server


def run(
    repeats: int,
    scenarios: Iterable[str] = SCENARIOS,
    tool_seconds: float = TOOL_SECONDS,
    *,
    step: float = STEP,
    nodelay: bool = True,
) -> dict[str, Any]:
    """Run the scenarios on every side (the controller only when importable); the result dict."""
    sim = Simulator(default_scenario="text", poll_after_ms=POLL_AFTER_MS)
    table = make_scenarios(step)
    for name, scenario in table.items():
        sim.add_scenario(name, scenario)
    sides: dict[str, dict[str, dict[str, Any]]] = {}
    notes: list[str] = []
    with loopback_server(sim, nodelay=nodelay) as server:
        bench = Bench(server)
        drivers: dict[str, tuple[Driver, ToolLog]] = {}
        sdk_log = ToolLog(tool_seconds)
        drivers["sdk"] = (sdk_driver(sdk_log), sdk_log)
        for side, stream in (("controller-poll", False), ("controller-stream", True)):
            ctl_log = ToolLog(tool_seconds)
            ctl = controller_driver(ctl_log, stream=stream)
            if ctl is None:
                notes.append("adapters.openai.RunController is not importable: skipped")
                break
            drivers[side] = (ctl, ctl_log)
        names = list(scenarios)
        for side, (driver, log) in drivers.items():
            sides[side] = {
                name: measure(bench, driver, log, table[name], name, repeats) for name in names
            }
    return {
        "benchmark": "e2e",
        "environment": environment(),
        "settings": {
            "transport": "uvicorn on 127.0.0.1 (real sockets), sync openai client",
            "server_tcp_nodelay": nodelay,
            "poll_after_ms": POLL_AFTER_MS,
            "step_seconds": step,
            "tool_seconds": tool_seconds,
            "repeats": repeats,
        },
        "sides": sides,
        "comparison": compare(sides),
        "notes": notes,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="one run per scenario, 10 ms steps and tools"
    )
    parser.add_argument(
        "--scenarios", type=str, default=",".join(SCENARIOS), help="comma-separated names"
    )
    parser.add_argument("--repeats", type=int, default=None, help="runs per scenario and side")
    parser.add_argument(
        "--as-served",
        action="store_true",
        help="keep Nagle on the simulator's sockets (measures the ~40 ms delayed-ACK artefact)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/e2e.json"))
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 7)
    result = run(
        repeats,
        scenarios=[n for n in args.scenarios.split(",") if n],
        tool_seconds=0.01 if args.quick else TOOL_SECONDS,
        step=0.01 if args.quick else STEP,
        nodelay=not args.as_served,
    )
    write_result(args.out, result)
    print(format_table(result))
    return 0


def format_table(result: dict[str, Any]) -> str:
    """A markdown table of the headline numbers."""
    lines = [
        "| scenario | side | requests/run | detect p50 / p99 ms | actionable p50 ms | "
        "missed | wall s | client CPU ms | tool round s |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def f(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    for side, by_scenario in result["sides"].items():
        for name, r in by_scenario.items():
            d = r["detection_ms"]
            lines.append(
                f"| {name} | {side} | {f(r['requests_per_run']['median'], '.0f')} | "
                f"{f(d['p50'], '.1f')} / {f(d['p99'], '.1f')} | {f(d['actionable_p50'], '.1f')} | "
                f"{d['missed_changes']} | {f(r['wall_s']['median'], '.3f')} | "
                f"{f(r['client_cpu_ms']['median'], '.1f')} | "
                f"{f(r['tool_round_span_s']['median'], '.3f')} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
