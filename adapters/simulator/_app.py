"""The HTTP face of the simulator: Starlette routes under ``/v1``, SSE, and the fault layer.

``build_app(host)`` returns a raw ASGI callable: an outer layer that records every request and
applies scripted faults (it needs the raw ``send``/``receive`` to cut connections), around a
Starlette application with one route per Assistants endpoint. Handlers take the engine's lock,
advance the clock-driven state and answer with the API's JSON; ``stream=true`` answers are SSE
that follow the run's event log as the clock moves.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from adapters.simulator import _behaviour as api
from adapters.simulator._clock import ManualClock
from adapters.simulator._engine import Engine
from adapters.simulator._records import ApiError, RunRecord, SseEvent, not_found
from adapters.simulator._requests import (
    AssistantCreate,
    MessageCreate,
    MetadataUpdate,
    RunCreate,
    SubmitToolOutputs,
    ThreadAndRunCreate,
    ThreadCreate,
    parse_body,
)
from adapters.simulator.faults import Fault, FaultSet

__all__ = ["INPROCESS_KEY", "ConnectionDropped", "RequestRecord", "build_app"]

Json = dict[str, Any]
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: scope extension set by the in-process transports
INPROCESS_KEY = "run_lifecycle.simulator.inprocess"
_STREAM_IDLE_SECONDS = 0.005


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
    faults: FaultSet

    def poll_after(self, run: Json) -> int | None:
        """The ``openai-poll-after-ms`` value for a run response (``None``: no header)."""
        ...

    def record(self, record: RequestRecord) -> None:
        """Store a request record."""
        ...


# -- the Starlette part -----------------------------------------------------------------------


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def _page(items: Sequence[Json], request: Request) -> Json:
    q = request.query_params
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(400, f"Invalid value for 'order': '{order}'.", param="order")
    try:
        limit = int(q.get("limit", "20"))
    except ValueError:
        raise ApiError(
            400, "Invalid value for 'limit': expected an integer.", param="limit"
        ) from None
    if not 1 <= limit <= 100:
        raise ApiError(400, "Invalid 'limit': must be between 1 and 100.", param="limit")
    data = list(items) if order == "asc" else list(reversed(items))
    ids = [d["id"] for d in data]
    for key, offset in (("after", 1), ("before", 0)):
        marker = q.get(key)
        if marker is None:
            continue
        if marker not in ids:
            raise ApiError(400, f"Invalid '{key}': no object with id '{marker}'.", param=key)
        cut = ids.index(marker)
        data = data[cut + offset :] if key == "after" else data[:cut]
        ids = [d["id"] for d in data]
    page = data[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(data) > limit,
    }


def _sse(event: str, data: Json | str) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _ends_stream(event: SseEvent) -> bool:
    """A ``thread.run.<status>`` event of ``requires_action`` or a terminal status ends the
    HTTP stream (``_behaviour`` rule 9); an unknown status never does."""
    prefix = "thread.run."
    return event.event.startswith(prefix) and event.event[len(prefix) :] in api.ENDS_STREAM


class _Routes:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.engine = host.engine

    async def body(self, request: Request) -> bytes:
        return await request.body()

    def run_response(self, run: RunRecord, via: str) -> JSONResponse:
        payload = self.engine.serve(run, via)
        headers = {}
        after = self.host.poll_after(payload)
        if after is not None:
            headers["openai-poll-after-ms"] = str(after)
        return JSONResponse(payload, headers=headers)

    def stream(self, run: RunRecord, cursor: int, prefix: Sequence[SseEvent] = ()) -> Response:
        return StreamingResponse(
            self._follow(run, cursor, prefix),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )

    async def _follow(
        self, run: RunRecord, cursor: int, prefix: Sequence[SseEvent]
    ) -> AsyncIterator[bytes]:
        for event in prefix:
            yield _sse(event.event, event.data)
        clock = self.engine.clock
        while True:
            with self.engine.lock:
                self.engine.advance(run)
                fresh = run.events[cursor:]
                if not fresh and self.engine.pull(run):
                    fresh = run.events[cursor:]
            cursor += len(fresh)
            for event in fresh:
                yield _sse(event.event, event.data)
                if _ends_stream(event):
                    yield _sse("done", "[DONE]")
                    return
            if not fresh:
                if isinstance(clock, ManualClock) and clock.autoadvance > 0:
                    clock.advance(clock.autoadvance)
                await anyio.sleep(_STREAM_IDLE_SECONDS)

    # assistants ---------------------------------------------------------------------------

    async def create_assistant(self, request: Request) -> Response:
        body = parse_body(await self.body(request), AssistantCreate)
        with self.engine.lock:
            return JSONResponse(self.engine.create_assistant(body).payload())

    async def assistant(self, request: Request) -> Response:
        ident = request.path_params["assistant_id"]
        with self.engine.lock:
            rec = self.engine.assistant(ident)
            if request.method == "DELETE":
                del self.engine.assistants[ident]
                return JSONResponse({"id": ident, "object": "assistant.deleted", "deleted": True})
            if request.method == "POST":
                update = parse_body(await self.body(request), MetadataUpdate)
                rec.metadata = update.metadata or rec.metadata
            return JSONResponse(rec.payload())

    async def list_assistants(self, request: Request) -> Response:
        with self.engine.lock:
            items = [a.payload() for a in self.engine.assistants.values()]
        return JSONResponse(_page(items, request))

    # threads and messages -----------------------------------------------------------------

    async def create_thread(self, request: Request) -> Response:
        body = parse_body(await self.body(request), ThreadCreate)
        with self.engine.lock:
            return JSONResponse(self.engine.create_thread(body).payload())

    async def thread(self, request: Request) -> Response:
        ident = request.path_params["thread_id"]
        raw = await self.body(request) if request.method == "POST" else b""
        with self.engine.lock:
            rec = self.engine.thread(ident)
            if request.method == "DELETE":
                del self.engine.threads[ident]
                return JSONResponse({"id": ident, "object": "thread.deleted", "deleted": True})
            if request.method == "POST":
                rec.metadata = parse_body(raw, MetadataUpdate).metadata or rec.metadata
            return JSONResponse(rec.payload())

    async def messages(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        if request.method == "POST":
            body = parse_body(await self.body(request), MessageCreate)
            with self.engine.lock:
                return JSONResponse(self.engine.create_message(thread_id, body).payload())
        with self.engine.lock:
            items = self.engine.messages(thread_id)
            run_id = request.query_params.get("run_id")
            data = [m.payload() for m in items if run_id is None or m.run_id == run_id]
        return JSONResponse(_page(data, request))

    async def message(self, request: Request) -> Response:
        thread_id, ident = request.path_params["thread_id"], request.path_params["message_id"]
        with self.engine.lock:
            for msg in self.engine.messages(thread_id):
                if msg.id == ident:
                    return JSONResponse(msg.payload())
        raise not_found("message", ident)

    # runs ---------------------------------------------------------------------------------

    async def runs(self, request: Request) -> Response:
        thread_id = request.path_params["thread_id"]
        if request.method == "GET":
            with self.engine.lock:
                data = [self.engine.serve(r, "list") for r in self.engine.runs_of(thread_id)]
            return JSONResponse(_page(data, request))
        body = parse_body(await self.body(request), RunCreate)
        with self.engine.lock:
            run = self.engine.create_run(thread_id, body)
            if body.stream:
                return self.stream(run, 0)
            return self.run_response(run, "create")

    async def create_thread_and_run(self, request: Request) -> Response:
        body = parse_body(await self.body(request), ThreadAndRunCreate)
        with self.engine.lock:
            self.engine.assistant(body.assistant_id)
            thread = self.engine.create_thread(body.thread or ThreadCreate())
            try:
                run = self.engine.create_run(thread.id, body)
            except ApiError:
                del self.engine.threads[thread.id]
                raise
            if body.stream:
                return self.stream(run, 0, [SseEvent("thread.created", thread.payload())])
            return self.run_response(run, "create")

    async def run(self, request: Request) -> Response:
        p = request.path_params
        raw = await self.body(request) if request.method == "POST" else b""
        with self.engine.lock:
            run = self.engine.run(p["thread_id"], p["run_id"])
            if request.method == "POST":
                run.metadata = parse_body(raw, MetadataUpdate).metadata or run.metadata
                return self.run_response(run, "update")
            return self.run_response(run, "retrieve")

    async def cancel(self, request: Request) -> Response:
        p = request.path_params
        with self.engine.lock:
            return self.run_response(self.engine.cancel(p["thread_id"], p["run_id"]), "cancel")

    async def submit(self, request: Request) -> Response:
        p = request.path_params
        body = parse_body(await self.body(request), SubmitToolOutputs)
        with self.engine.lock:
            run = self.engine.run(p["thread_id"], p["run_id"])
            cursor = len(run.events)
            run = self.engine.submit(p["thread_id"], p["run_id"], body)
            if body.stream:
                return self.stream(run, cursor)
            return self.run_response(run, "submit")

    async def steps(self, request: Request) -> Response:
        p = request.path_params
        with self.engine.lock:
            run = self.engine.run(p["thread_id"], p["run_id"])
            data = [s.payload() for s in run.steps]
            ident = p.get("step_id")
            if ident is not None:
                for step in data:
                    if step["id"] == ident:
                        return JSONResponse(step)
                raise not_found("run step", ident)
        return JSONResponse(_page(data, request))

    def routes(self) -> list[Route]:
        run_path = "/v1/threads/{thread_id}/runs/{run_id}"
        return [
            Route("/v1/assistants", self.create_assistant, methods=["POST"]),
            Route("/v1/assistants", self.list_assistants, methods=["GET"]),
            Route(
                "/v1/assistants/{assistant_id}", self.assistant, methods=["GET", "POST", "DELETE"]
            ),
            Route("/v1/threads", self.create_thread, methods=["POST"]),
            Route("/v1/threads/runs", self.create_thread_and_run, methods=["POST"]),
            Route("/v1/threads/{thread_id}", self.thread, methods=["GET", "POST", "DELETE"]),
            Route("/v1/threads/{thread_id}/messages", self.messages, methods=["GET", "POST"]),
            Route("/v1/threads/{thread_id}/messages/{message_id}", self.message, methods=["GET"]),
            Route("/v1/threads/{thread_id}/runs", self.runs, methods=["GET", "POST"]),
            Route(run_path, self.run, methods=["GET", "POST"]),
            Route(run_path + "/cancel", self.cancel, methods=["POST"]),
            Route(run_path + "/submit_tool_outputs", self.submit, methods=["POST"]),
            Route(run_path + "/steps", self.steps, methods=["GET"]),
            Route(run_path + "/steps/{step_id}", self.steps, methods=["GET"]),
        ]


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return _error(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    else:
        message = f"{exc.detail} ({request.method} {request.url.path})"
    return _error(ApiError(exc.status_code, message))


async def _crash(request: Request, exc: Exception) -> Response:
    body = ApiError(500, "The simulator had an internal error.", type="server_error")
    return _error(body)


def _starlette(host: Host) -> Starlette:
    return Starlette(
        routes=_Routes(host).routes(),
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _crash},
    )


# -- the raw ASGI fault and recording layer -----------------------------------------------------


def build_app(host: Host) -> ASGIApp:
    """Build the simulator's ASGI application.

    Args:
        host: the simulator (engine, faults, poll-after policy, request log).

    Returns:
        A raw ASGI app: fault injection and request recording around the Starlette routes.
    """
    inner = _starlette(host)

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
            if message["type"] == "http.response.start" and not recorded:
                recorded = True
                host.record(RequestRecord(method, path, message["status"], arrived, fault))
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
