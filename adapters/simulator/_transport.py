"""In-process HTTP transports: the SDK talks to the simulator's ASGI app without a socket.

httpx2's own ``ASGITransport`` is async-only and buffers the whole body, which breaks SSE that
follows a clock. These transports stream: the app runs as a task (on the caller's loop for
:class:`AsyncInProcessTransport`, on a private loop thread for the sync
:class:`InProcessTransport`), its ``send`` messages flow through a queue, and the response body is
read from that queue as it arrives. Connection faults map to the exceptions a real socket gives
(``httpx2.RemoteProtocolError``), and the request's read timeout is honoured
(``httpx2.ReadTimeout``), so retry and fallback code sees what it would see over the network.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2

from adapters.simulator._asgi import INPROCESS_KEY, ASGIApp, ConnectionDropped, Message

__all__ = ["AsyncInProcessTransport", "InProcessTransport", "LoopThread"]

_END = object()  # the app returned
_DROPPED = object()  # the app dropped the connection (or crashed)


def _scope(request: httpx2.Request) -> dict[str, Any]:
    url = request.url
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": url.scheme,
        "path": url.path,
        "raw_path": url.raw_path.split(b"?")[0],
        "query_string": url.query,
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in request.headers.raw],
        "client": ("127.0.0.1", 0),
        "server": (url.host, url.port or 80),
        "extensions": {INPROCESS_KEY: True},
    }


def _read_timeout(request: httpx2.Request) -> float | None:
    timeout = request.extensions.get("timeout") or {}
    value = timeout.get("read")
    return float(value) if value is not None else None


class _Exchange:
    """One request/response, run on an event loop; messages go to ``put`` (thread-safe or not)."""

    def __init__(self, app: ASGIApp, request: httpx2.Request, body: bytes, put: Any) -> None:
        self.app = app
        self.scope = _scope(request)
        self.body = body
        self.put = put
        self.disconnected: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None

    async def _receive(self) -> Message:
        if self.body is not None:
            body, self.body = self.body, None  # type: ignore[assignment]
            return {"type": "http.request", "body": body, "more_body": False}
        assert self.disconnected is not None
        await self.disconnected.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        self.put(message)

    async def _main(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        except (ConnectionDropped, Exception, BaseExceptionGroup):
            self.put(_DROPPED)
        else:
            self.put(_END)

    def start(self) -> None:
        """Start the app task (call on the loop)."""
        self.disconnected = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._main())

    def stop(self) -> None:
        """Tell the app the client went away and cancel it (call on the loop)."""
        if self.disconnected is not None:
            self.disconnected.set()
        if self.task is not None and not self.task.done():
            self.task.cancel()


def _start_message(message: object) -> Message:
    if message is _END or message is _DROPPED or not isinstance(message, dict):
        raise httpx2.RemoteProtocolError("Server disconnected without sending a response.")
    return message


def _body_chunk(message: object) -> tuple[bytes, bool]:
    if message is _END or message is _DROPPED or not isinstance(message, dict):
        raise httpx2.RemoteProtocolError(
            "peer closed connection without sending complete message body (incomplete chunked read)"
        )
    return bytes(message.get("body", b"")), bool(message.get("more_body", False))


def _headers(start: Message) -> list[tuple[bytes, bytes]]:
    return [(bytes(k), bytes(v)) for k, v in start.get("headers", [])]


class LoopThread:
    """A private event loop on a daemon thread, for the sync transport."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="simulator-loop", daemon=True
        )
        self._thread.start()

    def call(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the loop thread, soon."""
        self.loop.call_soon_threadsafe(fn, *args)

    def close(self) -> None:
        """Stop the loop and join the thread."""
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)
        self.loop.close()


class _SyncBody(httpx2.SyncByteStream):
    def __init__(
        self, q: queue.Queue[object], exchange: _Exchange, loop: LoopThread, timeout: float | None
    ) -> None:
        self._q, self._exchange, self._loop, self._timeout = q, exchange, loop, timeout

    def __iter__(self) -> Iterator[bytes]:
        more = True
        while more:
            try:
                message = self._q.get(timeout=self._timeout)
            except queue.Empty:
                raise httpx2.ReadTimeout("Timed out reading the simulator's response.") from None
            chunk, more = _body_chunk(message)
            if chunk:
                yield chunk

    def close(self) -> None:
        self._loop.call(self._exchange.stop)


class InProcessTransport(httpx2.BaseTransport):
    """A sync httpx2 transport that runs the ASGI app on a private loop thread and streams.

    Args:
        app: the simulator's ASGI app.
        loop: the loop thread to run it on.
    """

    def __init__(self, app: ASGIApp, loop: LoopThread) -> None:
        self._app = app
        self._loop = loop

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send one request through the app and return a streaming response.

        Raises:
            httpx2.RemoteProtocolError: when the app drops the connection before responding.
            httpx2.ReadTimeout: when no response starts within the request's read timeout.
        """
        q: queue.Queue[object] = queue.Queue()
        exchange = _Exchange(self._app, request, request.read(), q.put)
        timeout = _read_timeout(request)
        self._loop.call(exchange.start)
        try:
            start = _start_message(q.get(timeout=timeout))
        except queue.Empty:
            self._loop.call(exchange.stop)
            raise httpx2.ReadTimeout("Timed out waiting for the simulator's response.") from None
        except httpx2.RemoteProtocolError:
            self._loop.call(exchange.stop)
            raise
        return httpx2.Response(
            start["status"],
            headers=_headers(start),
            stream=_SyncBody(q, exchange, self._loop, timeout),
            request=request,
        )


class _AsyncBody(httpx2.AsyncByteStream):
    def __init__(
        self, q: asyncio.Queue[object], exchange: _Exchange, timeout: float | None
    ) -> None:
        self._q, self._exchange, self._timeout = q, exchange, timeout

    async def __aiter__(self) -> AsyncIterator[bytes]:
        more = True
        while more:
            try:
                message = await asyncio.wait_for(self._q.get(), self._timeout)
            except TimeoutError:
                raise httpx2.ReadTimeout("Timed out reading the simulator's response.") from None
            chunk, more = _body_chunk(message)
            if chunk:
                yield chunk

    async def aclose(self) -> None:
        self._exchange.stop()


class AsyncInProcessTransport(httpx2.AsyncBaseTransport):
    """An async httpx2 transport that runs the ASGI app on the caller's loop and streams.

    Args:
        app: the simulator's ASGI app.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send one request through the app and return a streaming response.

        Raises:
            httpx2.RemoteProtocolError: when the app drops the connection before responding.
            httpx2.ReadTimeout: when no response starts within the request's read timeout.
        """
        q: asyncio.Queue[object] = asyncio.Queue()
        exchange = _Exchange(self._app, request, await request.aread(), q.put_nowait)
        timeout = _read_timeout(request)
        exchange.start()
        try:
            start = _start_message(await asyncio.wait_for(q.get(), timeout))
        except TimeoutError:
            exchange.stop()
            raise httpx2.ReadTimeout("Timed out waiting for the simulator's response.") from None
        except httpx2.RemoteProtocolError:
            exchange.stop()
            raise
        return httpx2.Response(
            start["status"],
            headers=_headers(start),
            stream=_AsyncBody(q, exchange, timeout),
            request=request,
        )
