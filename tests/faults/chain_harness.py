"""The fault harness for Responses chains: the simulator on loopback, a manual clock, and a log
of every ``/v1/responses`` request body as it arrived on the wire.

* :class:`BodyLog` - an ASGI layer, outside the simulator's fault layer, that keeps the JSON body
  and the answer status of every ``/v1/responses`` request (a request a fault answered, or whose
  connection was dropped, included): what the client *sent*, which the simulator's own records
  (what each response was created with) cannot say for requests it refused or never applied.
* :class:`ChainWorld` - one test's world for chains: a :class:`~adapters.simulator.ManualClock`,
  a simulator served by uvicorn on 127.0.0.1 behind a :class:`BodyLog`, and the real ``openai``
  client over HTTP (with :data:`tests.faults.harness.SECRET_KEY`, no keep-alive).
* :class:`ResponseRewriter` - an ASGI layer, inside the :class:`BodyLog` and outside the
  simulator's fault layer, that rewrites ``/v1/responses`` answers on their way out, per
  :class:`Rewrite`: a stale read (an older status of the same response again), an unknown status
  string, a read answered with another response's body (misrouted), a completed response whose
  ``output`` lost its ``function_call`` items. The Responses twin of
  :class:`tests.faults.harness.Rewriter`; the simulator itself only follows the documented API.
* :func:`chain_is_continuous` - a chain's journal is a path through ``RESPONSE_CHAIN``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx2
import openai

from adapters.simulator import CallTools, ManualClock, Simulator, SimulatorServer
from lifecycle import RESPONSE_CHAIN
from tests.faults.harness import (
    SECRET_KEY,
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    _Forward,
)

RESPONSES = "/v1/responses"


@dataclass
class Sent:
    """One ``/v1/responses`` request as it arrived.

    Attributes:
        method: the HTTP method.
        path: the URL path.
        body: the JSON body (``None`` when there was none, or it was not JSON).
        status: the answer's HTTP status (``None``: none yet, or the connection was dropped).
        error: the error message of a 4xx/5xx answer.
    """

    method: str
    path: str
    body: dict[str, Any] | None
    status: int | None
    error: str = ""

    @property
    def is_create(self) -> bool:
        """A ``POST /v1/responses`` (a first response, or the next one of a chain)."""
        return self.method == "POST" and self.path.rstrip("/") == RESPONSES

    @property
    def previous(self) -> str | None:
        """The ``previous_response_id`` of a create (``None``: a chain's first response)."""
        return None if self.body is None else self.body.get("previous_response_id")

    @property
    def op_id(self) -> str | None:
        """The ``metadata.op_id`` a create carries."""
        meta = (self.body or {}).get("metadata")
        return str(meta.get("op_id")) if isinstance(meta, dict) and meta.get("op_id") else None

    @property
    def output_ids(self) -> list[str]:
        """The call ids of the ``function_call_output`` items a create carries."""
        items = (self.body or {}).get("input")
        if not isinstance(items, list):
            return []
        return [
            str(i.get("call_id"))
            for i in items
            if isinstance(i, dict) and i.get("type") == "function_call_output"
        ]

    @property
    def refused(self) -> bool:
        """Answered 429: refused, not applied (the one create answer a client may send again)."""
        return self.status == 429


class BodyLog:
    """An ASGI layer that keeps every ``/v1/responses`` request (see :class:`Sent`)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner
        self.sent: list[Sent] = []
        self.lock = threading.Lock()

    def snapshot(self) -> list[Sent]:
        """The requests kept so far, oldest first."""
        with self.lock:
            return list(self.sent)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(RESPONSES):
            await self.inner(scope, receive, send)
            return
        # read the whole body first: a fault that answers without handling the request never
        # reads it, and what the client sent is what this layer is for
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        raw = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        # kept as it arrives, before any answer: a client may see the answer (or the dropped
        # connection) before this layer gets control back
        sent = Sent(scope["method"], scope["path"], _parsed(raw), None)
        with self.lock:
            self.sent.append(sent)
        await self.inner(scope, replay, _Answer(sent, send, self.lock).send)


class _Answer:
    """Forwards the answer, noting its status (and an error's message) on the :class:`Sent`
    before the client can see it. ``send`` is a bound method whose object has the server's
    ``transport``, as the simulator's connection drops look for it."""

    def __init__(self, sent: Sent, send: Send, lock: threading.Lock) -> None:
        self.sent, self._send, self.lock = sent, send, lock
        self.transport = getattr(getattr(send, "__self__", None), "transport", None)
        self.error: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            with self.lock:
                self.sent.status = int(message["status"])
        elif message["type"] == "http.response.body" and (self.sent.status or 0) >= 400:
            self.error.append(message.get("body", b""))
            if not message.get("more_body", False):
                with self.lock:
                    self.sent.error = _error_message(b"".join(self.error))
        await self._send(message)


def _parsed(raw: bytes) -> dict[str, Any] | None:
    """A JSON object body (``None``: none, or not a JSON object)."""
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _error_message(raw: bytes) -> str:
    """The message of an OpenAI-shaped error body (its start, when it is not one)."""
    try:
        return str((json.loads(raw).get("error") or {}).get("message"))
    except (ValueError, AttributeError):
        return raw[:200].decode(errors="replace")


# -- payload rewriting -------------------------------------------------------------------------

RewriteKind = Literal["stale", "unknown_status", "misrouted", "lost_calls"]
#: the status an ``unknown_status`` rewrite puts on the wire (no API version has it)
UNKNOWN_STATUS = "reticulating"


@dataclass
class Rewrite:
    """Rewrite the next matching ``/v1/responses`` answer (a response object, 2xx, not a
    stream), once.

    Attributes:
        kind: ``stale``: the body of an earlier status of the same response, as the server
            sent it (waits for an answer whose status differs from one seen for that id);
            ``unknown_status``: the status is :data:`UNKNOWN_STATUS`; ``misrouted``: the last
            body of another response (waits until another one was seen); ``lost_calls``:
            a completed response's ``output`` without its ``function_call`` items (waits for
            one).
        methods: the HTTP methods whose answers it may rewrite (reads by default).
        fired: the id of the response whose answer it rewrote (``None``: not yet).
    """

    kind: RewriteKind
    methods: tuple[str, ...] = ("GET",)
    fired: str | None = None


@dataclass
class ResponseRewriter:
    """An ASGI layer that rewrites ``/v1/responses`` answers per :class:`Rewrite` (armed rules
    are tried in order; one fires per answer). It keeps the real response bodies, by response
    id and status, for stale and misrouted answers. An answer is held until its body is whole:
    a connection dropped in the middle of a body is a drop before the answer here."""

    inner: ASGIApp
    rules: list[Rewrite] = field(default_factory=list)
    #: the real bodies of each response (before any rewrite), by status, the first of each
    bodies: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    #: the last real body of each response
    last: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (kind, response id, real status, status sent) of every rewrite, in order
    applied: list[tuple[str, str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, rule: Rewrite) -> Rewrite:
        """Arm a rule."""
        with self.lock:
            self.rules.append(rule)
        return rule

    def pending(self) -> list[Rewrite]:
        """The armed rules that have not fired yet."""
        with self.lock:
            return [r for r in self.rules if r.fired is None]

    def _rewritten(self, method: str, data: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        rid, real = str(data.get("id")), str(data.get("status"))
        for rule in self.rules:
            if rule.fired is not None or method not in rule.methods:
                continue
            out: dict[str, Any] | None = None
            if rule.kind == "stale":
                older = [b for s, b in self.bodies.get(rid, {}).items() if s != real]
                out = json.loads(json.dumps(older[0])) if older else None
            elif rule.kind == "unknown_status":
                out = {**data, "status": UNKNOWN_STATUS}
            elif rule.kind == "misrouted":
                others = [b for i, b in self.last.items() if i != rid]
                out = json.loads(json.dumps(others[-1])) if others else None
            elif real == "completed":
                items = data.get("output")
                kept = [
                    i
                    for i in items or []
                    if not (isinstance(i, dict) and i.get("type") == "function_call")
                ]
                if isinstance(items, list) and len(kept) < len(items):
                    out = {**data, "output": kept}
            if out is not None:
                rule.fired = rid
                return rule.kind, out
        return None

    def _rewrite(self, method: str, body: bytes) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if not isinstance(data, dict) or data.get("object") != "response" or "id" not in data:
            return body
        rid, real = str(data["id"]), str(data.get("status"))
        with self.lock:
            done = self._rewritten(method, data)
            # what the server really said, for later stale and misrouted answers
            self.bodies.setdefault(rid, {}).setdefault(real, data)
            self.last.pop(rid, None)
            self.last[rid] = data
            if done is None:
                return body
            kind, out = done
            self.applied.append((kind, rid, real, str(out.get("status"))))
        return json.dumps(out).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(RESPONSES):
            await self.inner(scope, receive, send)
            return
        method = scope["method"]
        start: Message | None = None
        chunks: list[bytes] = []
        passing = False  # a stream or an error: sent as it comes

        async def capture(message: Message) -> None:
            nonlocal start, passing
            if message["type"] == "http.response.start":
                headers = {bytes(k).lower(): bytes(v) for k, v in message.get("headers", [])}
                streaming = b"text/event-stream" in headers.get(b"content-type", b"")
                passing = streaming or int(message["status"]) >= 300
                if passing:
                    await send(message)
                else:
                    start = message
                return
            if passing or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            assert start is not None
            body = self._rewrite(method, b"".join(chunks))
            headers = [
                (k, v) for k, v in start.get("headers", []) if bytes(k).lower() != b"content-length"
            ]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.inner(scope, receive, _Forward(send, capture).send)


class ChainWorld:
    """One test's simulator (behind a :class:`ResponseRewriter`, behind a :class:`BodyLog`),
    server, manual clock and client.

    Args:
        poll_after_ms: the simulator's ``openai-poll-after-ms`` policy (the reference profile
            only: another profile keeps its own).
        profile: the simulator's server profile (``adapters.simulator.PROFILES``).
    """

    def __init__(self, *, poll_after_ms: int | None = 50, profile: str = "reference") -> None:
        self.clock = ManualClock()
        policy: dict[str, Any] = {"poll_after_ms": poll_after_ms} if profile == "reference" else {}
        self.sim = Simulator(clock=self.clock, seed=7, profile=profile, **policy)
        self.rewriter = ResponseRewriter(self.sim.app)
        self.log = BodyLog(self.rewriter)
        self.sim.app = self.log
        self.server = SimulatorServer(self.sim)
        self.client: openai.OpenAI | None = None

    def __enter__(self) -> ChainWorld:
        self.server.start()
        # no keep-alive: a connection the server dropped is never picked from the pool by the
        # next request (which would make request sequences differ between equal test runs)
        http = openai.DefaultHttpxClient(limits=httpx2.Limits(max_keepalive_connections=0))
        self.client = openai.OpenAI(
            base_url=self.server.base_url,
            api_key=SECRET_KEY,
            max_retries=0,
            timeout=10.0,
            http_client=http,
        )
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

    def creates(self, since: int = 0) -> list[Sent]:
        """The creates sent (from the ``since``-th logged request on)."""
        return [s for s in self.log.snapshot()[since:] if s.is_create]

    def outputs_sent(self) -> Counter[str]:
        """How many creates carried an output for each call id (429s, refused, not counted)."""
        return Counter(c for s in self.creates() if not s.refused for c in s.output_ids)

    def answers_sent(self) -> Counter[str]:
        """How many next responses were sent for each previous response (429s not counted)."""
        return Counter(s.previous for s in self.creates() if not s.refused and s.previous)

    def first_creates_sent(self) -> Counter[str]:
        """How many first creates were sent for each chain (its op id; 429s not counted)."""
        return Counter(
            s.op_id for s in self.creates() if not s.refused and not s.previous and s.op_id
        )

    def live_responses(self) -> list[str]:
        """The responses not yet in a terminal status (advanced to now)."""
        with self.sim.engine.lock:
            self.sim.responses.advance_all()
            return [r.id for r in self.sim.responses.responses.values() if not r.terminal]

    def next_create_ahead(self, op_id: str | None = None) -> bool:
        """Whether a chain (the one whose first create carried ``op_id``; ``None``: any) has a
        next create ahead: a response that completed with function calls nobody answered yet,
        or a live one whose scenario makes calls further on (advanced to now)."""
        with self.sim.engine.lock:
            self.sim.responses.advance_all()
            records = list(self.sim.responses.responses.values())
            if op_id is not None:
                chains = {r.chain.id for r in records if r.metadata.get("op_id") == op_id}
                records = [r for r in records if r.chain.id in chains]
            for r in records:
                if r.status == "completed" and r.calls and not r.answers:
                    return True
                steps = r.chain.scenario.steps[r.step_index :]
                if not r.terminal and any(isinstance(step, CallTools) for step in steps):
                    return True
            return False

    def calls_by_order(self) -> Counter[str]:
        """How many function calls (distinct call ids) the server made for each ``order``
        argument (calls whose arguments are not an object with a string ``order`` left out)."""
        ids: dict[str, set[str]] = {}
        with self.sim.engine.lock:
            for resp in self.sim.responses.responses.values():
                for call in resp.calls:
                    try:
                        args = json.loads(call.arguments)
                    except ValueError:
                        continue
                    order = args.get("order") if isinstance(args, dict) else None
                    if isinstance(order, str):
                        ids.setdefault(order, set()).add(call.call_id)
        return Counter({order: len(calls) for order, calls in ids.items()})

    def responses_of(self, op_id: str) -> list[str]:
        """The responses whose metadata carries ``op_id`` (the chain's first create, applied)."""
        with self.sim.engine.lock:
            return [
                r.id
                for r in self.sim.responses.responses.values()
                if r.metadata.get("op_id") == op_id
            ]


def chain_is_continuous(history: Iterable[Any]) -> bool:
    """Each entry leaves the state the previous one entered, and is a ``RESPONSE_CHAIN`` edge."""
    state = RESPONSE_CHAIN.initial.value
    for entry in history:
        if entry.source != state or RESPONSE_CHAIN.edge(entry.source, entry.trigger) is None:
            return False
        state = entry.dest
    return True
