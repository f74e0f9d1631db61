"""The simulator's raw ASGI layer: request recording, scripted faults and header oddities.

:func:`build_app` wraps the Starlette routes (``_app.py``) in an outer layer that records every
request (:class:`RequestRecord`), applies scripted :class:`~adapters.simulator.Fault` s (it needs
the raw ``send``/``receive`` to cut connections) and, when the profile says
``odd_headers``, rewrites every response's headers (``_wire.odd_start``). Both transports run
this same app: the in-process ones (``_transport.py``, which set :data:`INPROCESS_KEY` so a drop
raises :class:`ConnectionDropped` instead of closing a socket) and uvicorn (``server.py``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from adapters.simulator import _wire
from adapters.simulator._app import Routes, starlette_app
from adapters.simulator._engine import Engine
from adapters.simulator._responses_app import ResponseRoutes
from adapters.simulator._responses_engine import ResponsesEngine
from adapters.simulator.faults import Fault, FaultSet
from adapters.simulator.profiles import ServerProfile

__all__ = ["INPROCESS_KEY", "ConnectionDropped", "Host", "RequestRecord", "build_app"]

Json = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: scope extension set by the in-process transports
INPROCESS_KEY = "run_lifecycle.simulator.inprocess"


class ConnectionDropped(Exception):
    """Raised inside the app to make an in-process transport drop the connection."""


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request the simulator saw.

    Attributes:
        method: the HTTP method.
        path: the URL path (no query).
        status: the response status, or ``None`` when the connection was dropped first.
        time: the sim-clock time the request arrived.
        fault: the fault applied, if any.
    """

    method: str
    path: str
    status: int | None
    time: float
    fault: Fault | None = None


class Host(Protocol):
    """What the app needs from the simulator."""

    engine: Engine
    responses: ResponsesEngine
    faults: FaultSet
    profile: ServerProfile

    def poll_after_header(self, op: str, body: Json) -> str | None:
        """The ``openai-poll-after-ms`` text for a run response of ``op`` (``None``: none)."""
        ...

    def record(self, record: RequestRecord) -> None:
        """Store a request record."""
        ...


# -- the raw ASGI fault and recording layer -----------------------------------------------------


def build_app(host: Host) -> ASGIApp:
    """Build the simulator's ASGI application.

    Args:
        host: the simulator (engines, faults, profile, poll-after policy, request log).

    Returns:
        A raw ASGI app: fault injection, request recording and the profile's header oddities
        around the Starlette routes (Assistants and Responses).
    """
    shared = Routes(host)
    inner = starlette_app(shared.routes() + ResponseRoutes(shared).routes())

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await inner(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        arrived = host.engine.clock()
        fault = host.faults.take(method, path)
        recorded = False

        async def recording_send(message: Message) -> None:
            nonlocal recorded
            if message["type"] == "http.response.start":
                if not recorded:
                    recorded = True
                    host.record(RequestRecord(method, path, message["status"], arrived, fault))
                if host.profile.odd_headers:
                    message = _wire.odd_start(message)
            await send(message)

        try:
            if fault is None:
                await inner(scope, receive, recording_send)
            else:
                await _apply(fault, inner, scope, receive, recording_send, send)
        except ConnectionDropped:
            if scope.get("extensions", {}).get(INPROCESS_KEY):
                raise
        finally:
            if not recorded:
                host.record(RequestRecord(method, path, None, arrived, fault))

    return app


async def _apply(
    fault: Fault, inner: ASGIApp, scope: Scope, receive: Receive, send: Send, raw_send: Send
) -> None:
    if fault.latency:
        await anyio.sleep(fault.latency)
    if fault.applied_then_fail is not None:
        await _swallow(inner, scope, receive)
        if fault.applied_then_fail == "drop":
            await _drop(scope, raw_send)
        elif fault.applied_then_fail == "hang":
            await _wait_for_disconnect(receive)
        else:
            await _send_error(fault, send)
        return
    if fault.drop == "before_response":
        await _drop(scope, raw_send)
        return
    if fault.drop == "mid_body":
        await inner(scope, receive, _cut_body(scope, send, raw_send))
        return
    if fault.cut_stream_after is not None or fault.silent_stream_after is not None:
        await inner(scope, receive, _cut_stream(fault, scope, send, raw_send))
        return
    if fault.status is not None:
        await _send_error(fault, send)
        return
    await inner(scope, receive, send)


async def _swallow(inner: ASGIApp, scope: Scope, receive: Receive) -> None:
    async def sink(message: Message) -> None:
        return None

    await inner(scope, receive, sink)


async def _send_error(fault: Fault, send: Send) -> None:
    body = json.dumps(fault.error_body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in fault.headers.items()]
    await send({"type": "http.response.start", "status": fault.status or 500, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


async def _drop(scope: Scope, raw_send: Send) -> None:
    """Close the connection now: the in-process transports by exception, uvicorn by its socket."""
    if scope.get("extensions", {}).get(INPROCESS_KEY):
        raise ConnectionDropped
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    if transport is not None:
        transport.close()
        for _ in range(3):  # let uvicorn see connection_lost before the app returns
            await anyio.sleep(0)
    raise ConnectionDropped


def _cut_body(scope: Scope, send: Send, raw_send: Send) -> Send:
    async def cutting(message: Message) -> None:
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            await _drop(scope, raw_send)
            return
        await send(message)

    return cutting


def _cut_stream(fault: Fault, scope: Scope, send: Send, raw_send: Send) -> Send:
    limit = (
        fault.cut_stream_after if fault.cut_stream_after is not None else fault.silent_stream_after
    )
    assert limit is not None
    sent = 0

    async def cutting(message: Message) -> None:
        nonlocal sent
        if message["type"] != "http.response.body" or not message.get("body"):
            await send(message)
            return
        if sent >= limit:
            if fault.cut_stream_after is not None:
                await _drop(scope, raw_send)
            else:
                await anyio.sleep_forever()
            return
        sent += message["body"].count(b"\n\n")
        await send(message)

    return cutting
