"""The fault harness for Responses chains: the simulator on loopback, a manual clock, and a log
of every ``/v1/responses`` request body as it arrived on the wire.

* :class:`BodyLog` - an ASGI layer, outside the simulator's fault layer, that keeps the JSON body
  and the answer status of every ``/v1/responses`` request (a request a fault answered, or whose
  connection was dropped, included): what the client *sent*, which the simulator's own records
  (what each response was created with) cannot say for requests it refused or never applied.
* :class:`ChainWorld` - one test's world for chains: a :class:`~adapters.simulator.ManualClock`,
  a simulator served by uvicorn on 127.0.0.1 behind a :class:`BodyLog`, and the real ``openai``
  client over HTTP (with :data:`tests.faults.harness.SECRET_KEY`, no keep-alive).
* :func:`chain_is_continuous` - a chain's journal is a path through ``RESPONSE_CHAIN``.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from adapters.simulator import ManualClock, Simulator, SimulatorServer
from lifecycle import RESPONSE_CHAIN
from tests.faults.harness import SECRET_KEY, ASGIApp, Message, Receive, Scope, Send

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


class ChainWorld:
    """One test's simulator (behind a :class:`BodyLog`), server, manual clock and client.

    Args:
        poll_after_ms: the simulator's ``openai-poll-after-ms`` policy.
    """

    def __init__(self, *, poll_after_ms: int | None = 50) -> None:
        self.clock = ManualClock()
        self.sim = Simulator(clock=self.clock, poll_after_ms=poll_after_ms, seed=7)
        self.log = BodyLog(self.sim.app)
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
