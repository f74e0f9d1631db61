"""The fault harness: the simulator on loopback, a manual clock, payload rewriting and tool doubles.

* :class:`World` - one test's world: a :class:`~adapters.simulator.ManualClock`, a simulator
  served by uvicorn on 127.0.0.1, the real ``openai`` client over HTTP (with :data:`SECRET_KEY`),
  an assistant and a thread, and controllers whose clock, wall clock and sleep all read or move
  the manual clock (a controller "sleep" advances simulated time: no test waits for real).
* :class:`Rewriter` - an ASGI layer around the simulator's app that rewrites run payloads on
  their way out, per thread: a stale read (a status from the past), an unknown status string, a
  terminal flip, a replayed old ``required_action``, a missing ``required_action``, or an SSE
  stream closed cleanly after N events. The simulator itself only follows the documented API
  behaviour; everything that breaks it is injected here, on the wire, where a real server would.
* :class:`Effects` - tool doubles that count real executions (the effect ledger of the tests).
* :func:`scenario` - register a one-off scenario (status script) on the simulator.
* :func:`wait_until` - wait for a condition with a deadline (no bare sleeps in tests).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import httpx2
import openai

from adapters.openai import AsyncRunController, ControllerConfig, RetryPolicy, RunController
from adapters.simulator import (
    Answer,
    CallTools,
    ManualClock,
    Queue,
    Scenario,
    Simulator,
    SimulatorServer,
    ToolCallSpec,
)
from lifecycle import ASSISTANTS_RUN, ToolRegistry

#: The API key every harness client uses; no log, repr, journal or store may ever contain it.
SECRET_KEY = "sk-harness-SECRETSECRET-0123456789abcdefXYZ"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Wait until ``predicate()`` holds or ``timeout`` real seconds pass; return whether it held."""
    done = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        done.wait(0.005)
    return True


# -- payload rewriting -------------------------------------------------------------------------


@dataclass
class Rule:
    """Rewrite one run response of a thread.

    Attributes:
        when: fire only when the real status is this one (``None``: any).
        status: the status to put on the wire instead (``None``: keep the real one).
        payload: replace the whole body with the run payload captured under this key (see
            :attr:`Rewriter.captured`), e.g. an old requires_action.
        drop_required_action: remove ``required_action`` from the body.
        times: how many responses it fires for.
        methods: HTTP methods it applies to.
    """

    when: str | None = None
    status: str | None = None
    payload: str | None = None
    drop_required_action: bool = False
    times: int = 1
    methods: tuple[str, ...] = ("GET",)
    fired: int = 0


@dataclass
class Rewriter:
    """An ASGI layer that rewrites run JSON bodies of selected threads, per :class:`Rule`.

    It also remembers the last ``requires_action`` payload of each thread
    (``captured[thread_id]``), so a rule can replay it later as a stale read.
    """

    inner: ASGIApp
    rules: dict[str, list[Rule]] = field(default_factory=dict)
    close_stream_after: dict[str, int] = field(default_factory=dict)
    captured: dict[str, dict[str, Any]] = field(default_factory=dict)
    wire: list[tuple[str, str]] = field(default_factory=list)  # (thread, status) as sent
    sent: list[tuple[str, str]] = field(default_factory=list)  # (run id, status) as sent
    #: (thread, method, path, HTTP status, error message) of every error response
    errors: list[tuple[str, str, str, int, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, thread_id: str, *rules: Rule) -> None:
        """Arm rules for a thread (applied in order; each fires ``times`` times)."""
        with self.lock:
            self.rules.setdefault(thread_id, []).extend(rules)

    def _thread_of(self, path: str) -> str | None:
        parts = path.split("/")
        if len(parts) >= 4 and parts[2] == "threads":
            return parts[3]
        return None

    def _rewrite(self, thread: str, method: str, body: bytes) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if not isinstance(data, dict) or data.get("object") != "thread.run":
            return body
        real = data.get("status")
        with self.lock:
            if real in ASSISTANTS_RUN.awaiting_client_values and data.get("required_action"):
                self.captured[thread] = json.loads(body)
            for rule in self.rules.get(thread, []):
                if rule.fired >= rule.times or method not in rule.methods:
                    continue
                if rule.when is not None and rule.when != real:
                    continue
                rule.fired += 1
                if rule.payload is not None:
                    data = dict(self.captured[rule.payload])
                if rule.status is not None:
                    data["status"] = rule.status
                if rule.drop_required_action:
                    data["required_action"] = None
                break
            self.wire.append((thread, str(data.get("status"))))
            self.sent.append((str(data.get("id")), str(data.get("status"))))
        return json.dumps(data).encode()

    def _record_error(self, thread: str, scope: Scope, status: int, body: bytes) -> None:
        try:
            error = json.loads(body).get("error") or {}
            message = str(error.get("message", ""))
        except (ValueError, AttributeError):
            message = body[:200].decode(errors="replace")
        with self.lock:
            self.errors.append((thread, scope["method"], scope["path"], status, message))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        thread = self._thread_of(scope["path"])
        if thread is None:
            await self.inner(scope, receive, send)
            return
        method = scope["method"]
        start: Message | None = None
        chunks: list[bytes] = []
        streaming = False
        closed = False
        limit = self.close_stream_after.get(thread)
        events = 0

        async def capture(message: Message) -> None:
            nonlocal start, streaming, closed, events
            if closed:
                return
            if message["type"] == "http.response.start":
                headers = {bytes(k).lower(): bytes(v) for k, v in message.get("headers", [])}
                streaming = b"text/event-stream" in headers.get(b"content-type", b"")
                if streaming:
                    await send(message)
                else:
                    start = message
                return
            if streaming:
                if limit is not None:
                    events += message.get("body", b"").count(b"\n\n")
                    if events > limit:
                        closed = True  # a clean end of the body without a terminal event
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                        return
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                assert start is not None
                if start["status"] >= 400:
                    self._record_error(thread, scope, start["status"], b"".join(chunks))
                body = self._rewrite(thread, method, b"".join(chunks))
                headers = [
                    (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.inner(scope, receive, _Forward(send, capture).send)


class _Forward:
    """A ``send`` for the wrapped app: a bound method whose object carries the server's
    ``transport``, which the simulator's connection drops close (a plain closure would turn
    every drop into a 500)."""

    def __init__(self, raw: Send, send: Send) -> None:
        self._send = send
        self.transport = getattr(getattr(raw, "__self__", None), "transport", None)

    async def send(self, message: Message) -> None:
        await self._send(message)


# -- tool doubles ------------------------------------------------------------------------------


class Effects:
    """Counts of real tool executions, by a key the tool chooses (thread-safe)."""

    def __init__(self) -> None:
        self.count: Counter[str] = Counter()
        self._lock = threading.Lock()
        self.release = threading.Event()  # lets a blocking tool finish

    def hit(self, key: str) -> int:
        """Record one execution for ``key`` and return the new count."""
        with self._lock:
            self.count[key] += 1
            return self.count[key]

    @property
    def total(self) -> int:
        """All executions."""
        with self._lock:
            return sum(self.count.values())


# -- the world ---------------------------------------------------------------------------------


class World:
    """One test's simulator, server, clock, client, assistant and thread.

    Args:
        poll_after_ms: the simulator's ``openai-poll-after-ms`` policy.
        profile: the simulator's server profile (``adapters.simulator.PROFILES``; the tests'
            ``--sim-profile`` by default through the ``world`` fixture).
        autoadvance: the manual clock's autoadvance (for streams read from the test thread).
        keepalive: reuse connections; off, every request opens its own, so a connection the
            server dropped can never be picked from the pool by the next request (a race
            that makes request sequences differ between otherwise equal test runs).
    """

    def __init__(
        self,
        *,
        poll_after_ms: int | None = 5,
        autoadvance: float = 0.0,
        keepalive: bool = True,
        profile: str | None = None,
    ) -> None:
        self.keepalive = keepalive
        self.clock = ManualClock(autoadvance=autoadvance)
        self.sim = Simulator(clock=self.clock, poll_after_ms=poll_after_ms, seed=7, profile=profile)
        self.rewriter = Rewriter(self.sim.app)
        self.sim.app = self.rewriter
        self.server = SimulatorServer(self.sim)
        self.sleeps: list[float] = []
        self.client: openai.OpenAI | None = None
        self.assistant_id = ""

    def __enter__(self) -> World:
        self.server.start()
        http = None
        if not self.keepalive:
            http = openai.DefaultHttpxClient(limits=httpx2.Limits(max_keepalive_connections=0))
        self.client = openai.OpenAI(
            base_url=self.server.base_url,
            api_key=SECRET_KEY,
            max_retries=0,
            timeout=10.0,
            http_client=http,
        )
        with _quiet():
            self.assistant_id = self.client.beta.assistants.create(model="gpt-4o-mini").id
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        self.server.stop()

    @property
    def api(self) -> openai.OpenAI:
        """The SDK client (over loopback HTTP)."""
        assert self.client is not None
        return self.client

    def thread(self) -> str:
        """Create a thread with one user message; return its id."""
        with _quiet():
            thread = self.api.beta.threads.create(
                messages=[{"role": "user", "content": "How much is my order?"}]
            )
        return thread.id

    def sleep(self, seconds: float) -> None:
        """The controllers' sleep: record it and move simulated time (never waits)."""
        self.sleeps.append(seconds)
        self.clock.advance(seconds)

    async def asleep(self, seconds: float) -> None:
        """The async controllers' sleep."""
        self.sleep(seconds)

    def config(self, **overrides: Any) -> ControllerConfig:
        """Harness defaults: fast polls, short deadlines, a seeded retry policy."""
        base: dict[str, Any] = {
            "poll_interval_s": 0.01,
            "request_timeout_s": 5.0,
            "retry": RetryPolicy(max_attempts=4, base_s=0.05, cap_s=1.0),
            "tool_timeout_s": 2.0,
            "expiry_margin_s": 15.0,
            "stream_idle_timeout_s": 2.0,
        }
        base.update(overrides)
        return ControllerConfig(**base)

    def controller(
        self,
        tools: ToolRegistry | None = None,
        *,
        config: ControllerConfig | None = None,
        **kw: Any,
    ) -> RunController:
        """A sync controller on this world's client and manual clock."""
        import random

        return RunController(
            self.api,
            tools=tools,
            config=config if config is not None else self.config(),
            sleep=self.sleep,
            clock=self.clock,
            wall_clock=self.clock,
            rng=random.Random(1),
            **kw,
        )

    def async_controller(
        self,
        client: openai.AsyncOpenAI,
        tools: ToolRegistry | None = None,
        *,
        config: ControllerConfig | None = None,
        **kw: Any,
    ) -> AsyncRunController:
        """An async controller on ``client`` and this world's manual clock."""
        import random

        return AsyncRunController(
            client,
            tools=tools,
            config=config if config is not None else self.config(),
            sleep=self.asleep,
            clock=self.clock,
            wall_clock=self.clock,
            rng=random.Random(1),
            **kw,
        )

    def async_client(self) -> openai.AsyncOpenAI:
        """An async SDK client over loopback HTTP."""
        return openai.AsyncOpenAI(
            base_url=self.server.base_url, api_key=SECRET_KEY, max_retries=0, timeout=10.0
        )

    def scenario(self, name: str, scenario: Scenario) -> dict[str, str]:
        """Register ``scenario`` and return the run metadata that selects it."""
        self.sim.add_scenario(name, scenario)
        return {"scenario": name}

    def count(self, method: str, glob: str) -> int:
        """Requests the simulator saw for ``method`` and path glob."""
        return self.sim.request_count(method, glob)

    def runs_on(self, thread_id: str) -> list[str]:
        """The run ids the simulator holds for a thread."""
        return [r.id for r in self.sim.runs.values() if r.thread_id == thread_id]


def _quiet() -> Any:
    from adapters.openai._wire import assistants_quiet

    return assistants_quiet()


def journal_is_continuous(history: Any) -> bool:
    """Each entry leaves the state the previous one entered, and is a table edge (no gap)."""
    state = ASSISTANTS_RUN.initial.value
    for entry in history:
        if entry.source != state or ASSISTANTS_RUN.edge(entry.source, entry.trigger) is None:
            return False
        state = entry.dest
    return True


def iter_text(*values: Any) -> Iterator[str]:
    """``str``/``repr`` of every value, for secret scans."""
    for v in values:
        yield str(v)
        yield repr(v)


def charge_tools(effects: Effects) -> ToolRegistry:
    """A registry with one non-idempotent tool, ``charge``, that counts its real executions."""
    tools = ToolRegistry()

    @tools.tool
    def charge(order: str) -> str:
        """Charge an order (not idempotent)."""
        effects.hit(order)
        return f"charged {order}"

    return tools


def one_charge_scenario(world: World, name: str) -> dict[str, str]:
    """Register scenario ``name``: one ``charge`` call, then an answer; return the run metadata."""
    call = ToolCallSpec.of("charge", {"order": name})
    return world.scenario(name, Scenario((Queue(), CallTools((call,)), Answer("{output}"))))
