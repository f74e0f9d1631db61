"""What the end-to-end benchmarks observe: tool executions, the run statuses the client's HTTP
layer receives (and when), request kinds, and small statistics.

* :class:`ToolLog` counts every tool execution and stamps its output with a serial number, so
  the outputs the server received prove which execution each came from (none twice, none lost);
* :class:`ObservingTransport` / :class:`AsyncObservingTransport` wrap an ``httpx2`` transport and
  record every run status in a JSON body or an SSE event, with the time it arrived;
* :func:`detection_latencies` matches the server's status changes to the client's sightings.
"""

from __future__ import annotations

import json
import re
import statistics
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from lifecycle import ASSISTANTS_RUN, ToolRegistry

TOOL_SECONDS = 0.2
TOOL_NAME = "work"

_RUN_PATH = re.compile(r"/threads/(?P<thread>[^/]+)/runs(?:/(?P<run>[^/]+))?(?P<rest>/.*)?$")


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


def thread_cpu(name: str) -> float:
    """CPU seconds used so far by the live thread called ``name`` (0.0 if none)."""
    for thread in threading.enumerate():
        if thread.name == name and thread.ident is not None:
            return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
    return 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank) of a sample, ``None`` when empty."""
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
