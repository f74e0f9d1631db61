"""The only places where the sync and async controllers differ: how they wait.

Each backend performs the I/O of one kind of request the same way for every drive: send a
request with the SDK client, read a stream event, sleep, run a round's tools, write to the store,
shield the cancel sent after an interruption. The async controller (``_async/``, the source) uses
:class:`AsyncBackend`; the sync controller (``_sync/``, generated from it) uses
:class:`SyncBackend`, whose methods have the same names and arguments without ``async``.

Store writes run in a worker thread in the async backend, so SQLite never blocks the event loop.
"""

from __future__ import annotations

import contextlib
import inspect
import socket
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import anyio.to_thread
from openai import AsyncOpenAI, OpenAI

from adapters.openai._logging import logger
from adapters.openai._tools import ToolRunner, run_tools_async, run_tools_sync
from adapters.openai._webhooks import WebhookInbox
from adapters.openai._wire import next_event_async, next_event_sync, send_async, send_sync
from lifecycle import ApprovalRequest, Decision, as_decision
from lifecycle.kernel import (
    AskApproval,
    HttpRequest,
    HttpResponse,
    RunTools,
    StreamOpened,
    ToolResult,
)

__all__ = ["AsyncBackend", "SyncBackend"]


def _cut(stream: Any) -> None:
    """Cut a sync stream from another thread: shut its socket down (a blocked read returns at
    once; closing the response alone does not wake it), then close it."""
    network = getattr(stream.response, "extensions", {}).get("network_stream")
    sock = network.get_extra_info("socket") if network is not None else None
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(Exception):
        stream.close()


def _hook_failed(item: ApprovalRequest, exc: Exception) -> None:
    """A hook that raised (or answered nonsense) leaves the call undecided: fail closed."""
    logger.error(
        "the approval hook failed; the call stays undecided",
        extra={"tool_call_id": item.call_id, "error": type(exc).__name__},
    )


class AsyncBackend:
    """Async I/O: ``await`` the SDK, anyio for sleeps, tools, threads and shields.

    Args:
        client: the async SDK client (retries off).
        sleep: the async sleep (``anyio.sleep`` unless injected).
    """

    def __init__(self, client: AsyncOpenAI, sleep: Callable[[float], Awaitable[None]]) -> None:
        self.client = client
        self._sleep = sleep

    @classmethod
    def for_client(
        cls, client: Any, timeout: float, sleep: Callable[[float], Awaitable[None]]
    ) -> AsyncBackend:
        """A backend for the caller's client, with the SDK's retries off and our timeout.

        Raises:
            TypeError: ``client`` is not an ``openai.AsyncOpenAI``.
        """
        if not isinstance(client, AsyncOpenAI):
            hint = " (use RunController for openai.OpenAI)" if isinstance(client, OpenAI) else ""
            raise TypeError(
                f"AsyncRunController needs an openai.AsyncOpenAI client, "
                f"not {type(client).__name__}{hint}"
            )
        return cls(client.with_options(max_retries=0, timeout=timeout), sleep)

    async def send(self, http: HttpRequest) -> HttpResponse | StreamOpened:
        """Send one request (SDK exceptions propagate to the caller's conversion)."""
        return await send_async(self.client, http)

    async def next_event(self, handle: Any, timeout: float | None = None) -> Any:
        """The next event of an open stream; ``timeout``: raise ``TimeoutError`` past it (the
        kernel cut the read at a deadline nearer than the stream's own idle timeout)."""
        if timeout is None:
            return await next_event_async(handle)
        with anyio.fail_after(max(0.0, timeout)):
            return await next_event_async(handle)

    async def close_stream(self, handle: Any) -> None:
        """Close an open stream."""
        await handle.close()

    async def sleep(self, seconds: float) -> None:
        """Wait (never for a negative time)."""
        if seconds > 0:
            await self._sleep(seconds)

    @staticmethod
    async def wait_pushed(inbox: WebhookInbox, object_id: str, since: int, seconds: float) -> bool:
        """Wait up to ``seconds`` (real time) for a webhook about ``object_id``."""
        return await inbox.wait_async(object_id, since, max(0.0, seconds))

    async def run_tools(self, request: RunTools, runner: ToolRunner) -> list[ToolResult]:
        """Run a round's tools."""
        return await run_tools_async(request, runner)

    async def approve(self, request: AskApproval, approver: Any) -> list[Decision | None]:
        """Ask the approval hook (a coroutine function works too) about each request."""
        out: list[Decision | None] = []
        for item in request.requests:
            try:
                answer = approver(item) if approver is not None else None
                if inspect.isawaitable(answer):
                    answer = await answer
                out.append(as_decision(answer))
            except Exception as exc:
                _hook_failed(item, exc)
                out.append(None)
        return out

    async def store(self, action: Callable[[], Any]) -> Any:
        """Run a store write in a worker thread (SQLite off the event loop)."""
        return await anyio.to_thread.run_sync(action)

    @staticmethod
    def interruptions() -> tuple[type[BaseException], ...]:
        """What an interrupted drive sees: the task's cancellation."""
        return (anyio.get_cancelled_exc_class(),)

    @staticmethod
    def shielded(seconds: float) -> Any:
        """A scope the interruption cannot reach, bounded to ``seconds``."""
        return anyio.move_on_after(seconds, shield=True)


class SyncBackend:
    """Blocking I/O: the SDK's sync client, threads for tools, an injectable sleep.

    Args:
        client: the sync SDK client (retries off).
        sleep: the sleep (``time.sleep`` unless injected).
    """

    def __init__(self, client: OpenAI, sleep: Callable[[float], None] = time.sleep) -> None:
        self.client = client
        self._sleep = sleep

    @classmethod
    def for_client(cls, client: Any, timeout: float, sleep: Callable[[float], None]) -> SyncBackend:
        """A backend for the caller's client, with the SDK's retries off and our timeout.

        Raises:
            TypeError: ``client`` is not an ``openai.OpenAI``.
        """
        if not isinstance(client, OpenAI):
            hint = (
                " (use AsyncRunController for openai.AsyncOpenAI)"
                if isinstance(client, AsyncOpenAI)
                else ""
            )
            raise TypeError(
                f"RunController needs an openai.OpenAI client, not {type(client).__name__}{hint}"
            )
        return cls(client.with_options(max_retries=0, timeout=timeout), sleep)

    def send(self, http: HttpRequest) -> HttpResponse | StreamOpened:
        """Send one request (SDK exceptions propagate to the caller's conversion)."""
        return send_sync(self.client, http)

    def next_event(self, handle: Any, timeout: float | None = None) -> Any:
        """The next event of an open stream; ``timeout``: raise ``TimeoutError`` past it (a
        blocking read cannot be cut short, so a timer closes the stream under it)."""
        if timeout is None:
            return next_event_sync(handle)
        timer = threading.Timer(max(0.0, timeout), _cut, (handle,))
        timer.daemon = True
        timer.start()
        try:
            return next_event_sync(handle)
        except Exception:
            if timer.finished.is_set():
                raise TimeoutError("stream read cut at a deadline") from None
            raise
        finally:
            timer.cancel()

    def close_stream(self, handle: Any) -> None:
        """Close an open stream."""
        handle.close()

    def sleep(self, seconds: float) -> None:
        """Wait (never for a negative time)."""
        if seconds > 0:
            self._sleep(seconds)

    @staticmethod
    def wait_pushed(inbox: WebhookInbox, object_id: str, since: int, seconds: float) -> bool:
        """Wait up to ``seconds`` (real time) for a webhook about ``object_id``."""
        return inbox.wait(object_id, since, max(0.0, seconds))

    def run_tools(self, request: RunTools, runner: ToolRunner) -> list[ToolResult]:
        """Run a round's tools."""
        return run_tools_sync(request, runner)

    def approve(self, request: AskApproval, approver: Any) -> list[Decision | None]:
        """Ask the approval hook about each request."""
        out: list[Decision | None] = []
        for item in request.requests:
            try:
                out.append(as_decision(approver(item) if approver is not None else None))
            except Exception as exc:
                _hook_failed(item, exc)
                out.append(None)
        return out

    def store(self, action: Callable[[], Any]) -> Any:
        """Run a store write."""
        return action()

    @staticmethod
    def interruptions() -> tuple[type[BaseException], ...]:
        """What an interrupted drive sees: Ctrl-C in the driving thread."""
        return (KeyboardInterrupt,)

    @staticmethod
    def shielded(seconds: float) -> Any:
        """Nothing interrupts a blocking call but a signal; the cancel's own timeout bounds it."""
        return contextlib.nullcontext()
