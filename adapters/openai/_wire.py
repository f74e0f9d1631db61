"""The SDK seam: send the kernel's requests with the ``openai`` client, convert what comes back.

Theory of operation
-------------------
The kernel describes each request as data (:class:`lifecycle.kernel.HttpRequest`). Here, and
only here, it becomes an SDK call: the client's generic ``get``/``post`` (the SDK's documented
way to reach any endpoint) with ``cast_to=httpx2.Response``, so the SDK still does the base URL,
authentication, timeouts and error mapping, and the kernel gets the raw status, headers and
body to parse itself. A streaming request uses the SDK's ``Stream`` with ``cast_to=object``, which
hands over each server-sent event as ``{"event": ..., "data": ...}`` without building SDK models.
Going through the generic methods also means no Assistants deprecation warning is raised per
request, so nothing has to catch warnings on the hot path.

Every SDK exception is converted once, by :func:`failure_of`, into a
:class:`lifecycle.kernel.Failure` (the exception itself rides along as ``cause``, to be re-raised
when a create fails for good). Anything else propagates: it is a bug, not an API failure.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import httpx2
import openai

from lifecycle import redact_secrets
from lifecycle.kernel import (
    END_OF_STREAM,
    HEADERS,
    Failure,
    FailureKind,
    HttpRequest,
    HttpResponse,
    SseEvent,
    StreamOpened,
)

__all__ = [
    "assistants_quiet",
    "failure_of",
    "next_event_async",
    "next_event_sync",
    "send_async",
    "send_sync",
]

_SSE = "text/event-stream"


def pick_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers the kernel reads (lower-case names), nothing else."""
    out = {}
    for name in HEADERS:
        value = headers.get(name)
        if value is not None:
            out[name] = value
    return out


def failure_of(exc: BaseException, *, streaming: bool = False) -> Failure | None:
    """Convert an SDK exception into a :class:`Failure`; ``None`` for anything else (a bug)."""
    message = redact_secrets(str(exc))[:500]
    if isinstance(exc, openai.APIStatusError):
        body = exc.body
        code = body.get("code") or body.get("type") if isinstance(body, dict) else None
        return Failure(
            FailureKind.STATUS,
            status=exc.status_code,
            message=message,
            headers=pick_headers(exc.response.headers),
            code=str(code) if code else None,
            cause=exc,
        )
    if isinstance(exc, openai.APITimeoutError):
        kind = FailureKind.STREAM if streaming else FailureKind.TIMEOUT
        return Failure(kind, message=message, cause=exc)
    if isinstance(exc, openai.APIConnectionError):
        kind = FailureKind.STREAM if streaming else FailureKind.CONNECTION
        return Failure(kind, message=message, cause=exc)
    if isinstance(exc, openai.APIError | httpx2.HTTPError):
        kind = FailureKind.STREAM if streaming else FailureKind.MALFORMED
        return Failure(kind, message=message, cause=exc)
    return None


def _options(http: HttpRequest) -> Any:
    """The SDK's ``RequestOptions`` for a request (a dict, typed ``Any`` for the overloads)."""
    options: dict[str, Any] = {"headers": dict(http.headers)}
    if http.stream:
        options["synthesize_event_and_data"] = True  # every event as {"event", "data"}
    if http.query:
        options["params"] = dict(http.query)
    if http.timeout is not None:
        options["timeout"] = http.timeout
    return options


def _response(raw: httpx2.Response) -> HttpResponse:
    return HttpResponse(raw.status_code, pick_headers(raw.headers), raw.content)


def send_sync(client: openai.OpenAI, http: HttpRequest) -> HttpResponse | StreamOpened:
    """Send ``http`` with a sync client (SDK exceptions propagate; see :func:`failure_of`)."""
    options = _options(http)
    body = dict(http.body) if http.body is not None else None
    if not http.stream:
        if http.method == "GET":
            raw = client.get(http.path, cast_to=httpx2.Response, options=options)
        else:
            raw = client.post(http.path, cast_to=httpx2.Response, body=body, options=options)
        return _response(raw)
    stream_cls = openai.Stream[object]
    if http.method == "GET":  # a stream resumed (Responses: ?stream=true&starting_after=N)
        stream = client.get(
            http.path, cast_to=object, options=options, stream=True, stream_cls=stream_cls
        )
    else:
        stream = client.post(
            http.path,
            cast_to=object,
            body=body,
            options=options,
            stream=True,
            stream_cls=stream_cls,
        )
    response = stream.response
    if _SSE not in response.headers.get("content-type", ""):
        response.read()  # a server that ignores stream=true answers with the object itself
        stream.close()
        return _response(response)
    return StreamOpened(stream)


async def send_async(client: openai.AsyncOpenAI, http: HttpRequest) -> HttpResponse | StreamOpened:
    """Send ``http`` with an async client (the twin of :func:`send_sync`)."""
    options = _options(http)
    body = dict(http.body) if http.body is not None else None
    if not http.stream:
        if http.method == "GET":
            raw = await client.get(http.path, cast_to=httpx2.Response, options=options)
        else:
            raw = await client.post(http.path, cast_to=httpx2.Response, body=body, options=options)
        return _response(raw)
    stream_cls = openai.AsyncStream[object]
    if http.method == "GET":  # a stream resumed (Responses: ?stream=true&starting_after=N)
        stream = await client.get(
            http.path, cast_to=object, options=options, stream=True, stream_cls=stream_cls
        )
    else:
        stream = await client.post(
            http.path,
            cast_to=object,
            body=body,
            options=options,
            stream=True,
            stream_cls=stream_cls,
        )
    response = stream.response
    if _SSE not in response.headers.get("content-type", ""):
        await response.aread()
        await stream.close()
        return _response(response)
    return StreamOpened(stream)


def _event(item: Any) -> SseEvent:
    if isinstance(item, dict):
        return SseEvent(str(item.get("event") or ""), item.get("data"))
    return SseEvent("", item)


def next_event_sync(stream: Any) -> SseEvent | Any:
    """The next event of a sync stream, or ``END_OF_STREAM`` (errors propagate)."""
    try:
        return _event(next(stream))
    except StopIteration:
        return END_OF_STREAM


async def next_event_async(stream: Any) -> SseEvent | Any:
    """The next event of an async stream, or ``END_OF_STREAM`` (errors propagate)."""
    try:
        return _event(await stream.__anext__())
    except StopAsyncIteration:
        return END_OF_STREAM


@contextlib.contextmanager
def assistants_quiet() -> Iterator[None]:
    """Silence exactly the SDK's Assistants deprecation warnings, nothing else.

    For code that calls the SDK's deprecated ``beta.assistants`` / ``beta.threads`` methods
    itself (the demo, tests): the runs/threads methods warn "The Assistants API is deprecated
    ...", the assistants resource warns with the bare message "deprecated". The controller never
    needs it: it sends its requests through the client's generic methods.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="The Assistants API is deprecated", category=DeprecationWarning
        )
        warnings.filterwarnings("ignore", message="deprecated$", category=DeprecationWarning)
        yield
