"""The simulator's ``/v1/responses`` endpoints: Starlette routes and SSE with sequence numbers.

Theory of operation
-------------------
:class:`ResponseRoutes` answers the five Responses endpoints the SDK calls
(``client.responses.create/retrieve/cancel/delete`` and ``input_items.list``). Handlers take the
engine lock, let the response engine (``_responses_engine.py``) advance and decide, and answer
with the API's JSON through the Assistants routes' helpers (``_app.Routes``), so the server
profile applies alike:

* ``openai-poll-after-ms`` on the ops ``response.create``, ``response.retrieve`` and
  ``response.cancel`` (see :data:`~adapters.simulator.ALL_RESPONSE_OPS`), per the profile;
* ``stream=true`` is SSE unless the profile says ``sse=False`` (then the plain JSON response);
* every ``garbage_every``-th GET of a run *or* response is garbage (one counter for both);
* the profile's ``finished_cancel`` and ``second_answer`` choose between the two behaviours the
  API leaves open (a cancel of a finished response; a second answer to a previous response).

A foreground create (``background`` false, no stream) is answered only when its response has
finished: the handler waits on the clock like an SSE stream does (a :class:`ManualClock` with
``autoadvance`` moves itself). A stream sends each event as ``event: <type>`` with the JSON that
carries ``sequence_number``; it ends after the terminal event, or, for a cancelled response
(there is no ``response.cancelled`` event), once the events so far are sent. No ``[DONE]``.
``GET /responses/{id}?stream=true&starting_after=N`` replays from ``N + 1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from adapters.simulator import _responses_behaviour as api
from adapters.simulator._app import Routes, page, sse_frame
from adapters.simulator._clock import ManualClock
from adapters.simulator._records import ApiError
from adapters.simulator._requests import ResponseCreate, parse_body
from adapters.simulator._responses_records import ResponseRecord

__all__ = ["ResponseRoutes"]

Json = dict[str, Any]
_IDLE_SECONDS = 0.005
#: the stream events after which nothing more is sent (rule 7)
_END_EVENTS = frozenset(f"response.{status}" for status in api.ENDS_STREAM)


def _flag(text: str | None) -> bool:
    return text is not None and text.lower() in ("true", "1")


def _starting_after(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError(
            400,
            f"Invalid type for 'starting_after': expected an integer, but got '{text}' instead.",
            param="starting_after",
            code="invalid_type",
        ) from None


class ResponseRoutes:
    """The ``/v1/responses`` routes over the shared answer helpers of :class:`Routes`."""

    def __init__(self, shared: Routes) -> None:
        self.shared = shared
        self.host = shared.host
        self.lock = shared.engine.lock
        self.clock = shared.engine.clock
        self.responses = shared.host.responses

    def json(self, resp: ResponseRecord, op: str) -> JSONResponse:
        return self.shared.json(resp.payload(), op)

    async def _idle(self) -> None:
        if isinstance(self.clock, ManualClock) and self.clock.autoadvance > 0:
            self.clock.advance(self.clock.autoadvance)
        await anyio.sleep(_IDLE_SECONDS)

    # -- streams ---------------------------------------------------------------------------------

    def stream(self, resp: ResponseRecord, cursor: int) -> Response:
        return StreamingResponse(
            self._follow(resp, cursor),
            media_type="text/event-stream",
            headers={"cache-control": "no-cache"},
        )

    async def _follow(self, resp: ResponseRecord, cursor: int) -> AsyncIterator[bytes]:
        while True:
            with self.lock:
                self.responses.advance(resp)
                fresh = resp.events[cursor:]
                finished = resp.terminal or resp.deleted
            cursor += len(fresh)
            for event in fresh:
                yield sse_frame(event.event, event.data)
                if event.event in _END_EVENTS:
                    return
            if finished:  # cancelled (no event), or nothing left after starting_after
                return
            if not fresh:
                await self._idle()

    async def _finished(self, resp: ResponseRecord, request: Request) -> Response:
        """A foreground create's answer: the response once it has finished (a client that
        went away stops the wait; its response plays on, as on a real server)."""
        while True:
            with self.lock:
                self.responses.advance(resp)
                if resp.terminal or resp.deleted:
                    return self.json(resp, "response.create")
            if await request.is_disconnected():
                return Response(status_code=499)
            await self._idle()

    # -- handlers --------------------------------------------------------------------------------

    async def create(self, request: Request) -> Response:
        body = parse_body(await request.body(), ResponseCreate, "responses")
        profile = self.host.profile
        with self.lock:
            resp = self.responses.create(body, forks=profile.second_answer == "fork")
            if self.shared.sse(body.stream):
                return self.stream(resp, 0)
            if resp.background:
                return self.json(resp, "response.create")
        return await self._finished(resp, request)

    async def retrieve(self, request: Request) -> Response:
        ident = request.path_params["response_id"]
        query = request.query_params
        after = _starting_after(query.get("starting_after"))
        with self.lock:
            resp = self.responses.get(ident)
            if self.shared.sse(_flag(query.get("stream"))):
                return self.stream(resp, 0 if after is None else max(after + 1, 0))
            garbage = self.shared.garbage_of(resp.payload)
            return garbage or self.json(resp, "response.retrieve")

    async def cancel(self, request: Request) -> Response:
        ident = request.path_params["response_id"]
        with self.lock:
            resp = self.responses.cancel(ident, finished=self.host.profile.finished_cancel)
            return self.json(resp, "response.cancel")

    async def delete(self, request: Request) -> Response:
        with self.lock:
            return JSONResponse(self.responses.delete(request.path_params["response_id"]))

    async def input_items(self, request: Request) -> Response:
        with self.lock:
            resp = self.responses.get(request.path_params["response_id"])
            items: list[Json] = [dict(i) for i in resp.input_items]
        return JSONResponse(page(items, request))

    def routes(self) -> list[Route]:
        one = "/v1/responses/{response_id}"
        return [
            Route("/v1/responses", self.create, methods=["POST"]),
            Route(one, self.retrieve, methods=["GET"]),
            Route(one, self.delete, methods=["DELETE"]),
            Route(one + "/cancel", self.cancel, methods=["POST"]),
            Route(one + "/input_items", self.input_items, methods=["GET"]),
        ]
