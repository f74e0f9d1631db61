"""The simulator's Assistants endpoints: Starlette routes under ``/v1``, and SSE.

:class:`Routes` has one route per Assistants endpoint; :func:`starlette_app` serves them, with
the ``/v1/responses`` routes of ``_responses_app.py`` (joined in ``_asgi.py``; they reuse this
module's answer helpers), and OpenAI-shaped errors. Handlers take the engine's lock, advance the
clock-driven state and answer with the API's JSON; ``stream=true`` answers are SSE that follow
the run's event log as the clock moves. The raw ASGI layer around it (request recording,
scripted faults, header oddities) is ``_asgi.py``.

The host's :class:`~adapters.simulator.ServerProfile` is read on every request (so it can be
swapped between requests): which run responses carry ``openai-poll-after-ms`` and with what text
(the host decides, ``Host.poll_after_header``), whether ``stream=true`` gets SSE or the plain JSON
run, and which GETs of a run (or a response) are garbage (the bytes come from ``_wire.py``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from adapters.simulator import _behaviour as api
from adapters.simulator import _wire
from adapters.simulator._clock import ManualClock
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

if TYPE_CHECKING:
    from adapters.simulator._asgi import Host

__all__ = ["Routes", "page", "sse_frame", "starlette_app"]

Json = dict[str, Any]
_STREAM_IDLE_SECONDS = 0.005


# -- the Starlette part -----------------------------------------------------------------------


def _error(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status)


def page(items: Sequence[Json], request: Request) -> Json:
    """A list object of ``items`` per the request's ``order``, ``after``, ``before``, ``limit``.

    Raises:
        ApiError: 400 for a bad ``order`` or ``limit``, or an unknown ``after``/``before`` id.
    """
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


def sse_frame(event: str, data: Json | str) -> bytes:
    """One SSE frame: ``event: <event>`` and the compact JSON (or text) ``data``."""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"event: {event}\ndata: {payload}\n\n".encode()


def _ends_stream(event: SseEvent) -> bool:
    """A ``thread.run.<status>`` event of ``requires_action`` or a terminal status ends the
    HTTP stream (``_behaviour`` rule 9); an unknown status never does."""
    prefix = "thread.run."
    return event.event.startswith(prefix) and event.event[len(prefix) :] in api.ENDS_STREAM


class Routes:
    """The Assistants routes, and the answer helpers the response routes share."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.engine = host.engine
        self.run_gets = 0  # GETs of a run or response so far (ServerProfile.garbage_every)
        self.garbage_served = 0

    async def body(self, request: Request) -> bytes:
        return await request.body()

    def json(self, body: Json, op: str) -> JSONResponse:
        """A JSON run response (or runs list) with the profile's poll-after header for ``op``."""
        headers = {}
        text = self.host.poll_after_header(op, body)
        if text is not None:
            headers["openai-poll-after-ms"] = _wire.header_text(text)
        return JSONResponse(body, headers=headers)

    def run_response(self, run: RunRecord, via: str) -> JSONResponse:
        return self.json(self.engine.serve(run, via), via)

    def sse(self, stream: bool | None) -> bool:
        """Whether to answer a request with ``stream`` as SSE (``False`` when the profile
        ignores ``stream``)."""
        return bool(stream) and self.host.profile.sse

    def garbage(self, run: RunRecord) -> Response | None:
        """Count a GET of the run; every ``garbage_every``-th is answered with garbage."""
        return self.garbage_of(lambda: self.engine.peek(run))

    def garbage_of(self, peek: Callable[[], Json]) -> Response | None:
        """Count a GET of a run or response (``peek`` reads it without side effects); every
        ``garbage_every``-th GET is answered with garbage."""
        every = self.host.profile.garbage_every
        self.run_gets += 1
        if every is None or self.run_gets % every:
            return None
        content_type, body = _wire.garbage(self.garbage_served, peek())
        self.garbage_served += 1
        return Response(body, headers={"content-type": content_type.decode()})

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
            yield sse_frame(event.event, event.data)
        clock = self.engine.clock
        while True:
            with self.engine.lock:
                self.engine.advance(run)
                fresh = run.events[cursor:]
                if not fresh and self.engine.pull(run):
                    fresh = run.events[cursor:]
            cursor += len(fresh)
            for event in fresh:
                yield sse_frame(event.event, event.data)
                if _ends_stream(event):
                    yield sse_frame("done", "[DONE]")
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
        return JSONResponse(page(items, request))

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
        return JSONResponse(page(data, request))

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
                return self.json(page(data, request), "list")
        body = parse_body(await self.body(request), RunCreate)
        with self.engine.lock:
            run = self.engine.create_run(thread_id, body)
            if self.sse(body.stream):
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
            if self.sse(body.stream):
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
            return self.garbage(run) or self.run_response(run, "retrieve")

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
            if self.sse(body.stream):
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
        return JSONResponse(page(data, request))

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


def starlette_app(routes: list[Route]) -> Starlette:
    """The Starlette application over ``routes``, with OpenAI-shaped errors."""
    return Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, Exception: _crash},
    )
