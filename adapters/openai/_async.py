"""The async driver and :class:`AsyncRunController`: pump the same flow with ``await``.

Tools run in an anyio task group under a :class:`anyio.CapacityLimiter`; async tools are awaited
(and cancelled at the round's deadline), sync tools run in worker threads and, when they outlive
the deadline, report their late result to the ledger. Sleep is ``anyio.sleep`` unless injected.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Generator
from typing import Any

import anyio
import anyio.to_thread
from openai import AsyncOpenAI

from adapters.openai._controller import ControllerBase, key_redactor
from adapters.openai._errors import ActiveRunPolicy
from adapters.openai._flow import CancelToken, RunFlow
from adapters.openai._io import (
    END_OF_STREAM,
    ApiCall,
    CloseStream,
    Emit,
    NextEvent,
    Persist,
    Reply,
    Request,
    RunTools,
    Sleep,
    ToolResult,
    assistants_quiet,
    start_call,
)
from adapters.openai._outcome import RunEvent, RunFinished, RunOutcome
from lifecycle import ASSISTANTS_RUN, Prepared

__all__ = ["AsyncRunController", "run_tools_async"]


class _Late:
    """Hands the result of a sync tool in a thread over to ``on_late`` if it outlives its budget."""

    def __init__(self, req: RunTools, prepared: Prepared) -> None:
        self.req = req
        self.prepared = prepared
        self.lock = threading.Lock()
        self.abandoned = False

    def __call__(self) -> Any:
        value: Any = None
        error: BaseException | None = None
        try:
            value = self.prepared.call_tool()
        except Exception as exc:
            error = exc
        with self.lock:
            late = self.abandoned
        if late:
            self.req.on_late(self.prepared, value, error)
        if error is not None:
            raise error
        return value

    def abandon(self) -> None:
        with self.lock:
            self.abandoned = True


async def run_tools_async(req: RunTools) -> list[ToolResult]:
    """Run the prepared calls concurrently, all within the round's timeout.

    Returns:
        One result per call, in order. An async tool past the timeout is cancelled; a sync tool
        keeps running in its thread and reports its real result through ``req.on_late``.
    """
    limiter = anyio.CapacityLimiter(max(1, req.max_concurrency))
    results: list[ToolResult | None] = [None] * len(req.items)
    deadline = anyio.current_time() + req.timeout if req.timeout is not None else float("inf")

    async def one(i: int, prepared: Prepared) -> None:
        late = _Late(req, prepared)
        with anyio.CancelScope(deadline=deadline) as scope:
            async with limiter:
                try:
                    if prepared.is_async:
                        value = await prepared.call_tool()
                    else:
                        value = await anyio.to_thread.run_sync(late, abandon_on_cancel=True)
                    results[i] = ToolResult(prepared, value=value)
                except Exception as exc:
                    results[i] = ToolResult(prepared, error=exc)
        if scope.cancelled_caught and results[i] is None:
            late.abandon()
            results[i] = ToolResult(prepared, timed_out=True)

    async with anyio.create_task_group() as tg:
        for i, prepared in enumerate(req.items):
            tg.start_soon(one, i, prepared)
    return [
        r if r is not None else ToolResult(p, timed_out=True)
        for r, p in zip(results, req.items, strict=True)
    ]


class AsyncRunController(ControllerBase):
    """Drive Assistants runs with an ``openai.AsyncOpenAI`` client; the twin of ``RunController``.

    Args:
        client: the async SDK client (used with ``max_retries=0``).
        sleep: an async sleep (default ``anyio.sleep``); tests pass one that moves a clock.
        **settings: see ``ControllerBase`` (tools, config, hooks, allowed_tools, stream, clock,
            wall_clock, rng).
    """

    def __init__(
        self,
        client: AsyncOpenAI,
        *,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
        **settings: Any,
    ) -> None:
        super().__init__(**settings)
        self._client = client.with_options(max_retries=0, timeout=self.config.request_timeout_s)
        self._sleep = sleep
        self._redact = key_redactor(client.api_key)

    async def run(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        stream: bool | None = None,
        cancel_token: CancelToken | None = None,
        allowed_tools: Collection[str] | None = None,
        on_active_run: ActiveRunPolicy | None = None,
        **create_args: Any,
    ) -> RunOutcome:
        """Create a run on ``thread_id`` and drive it to an end (see ``RunController.run``).

        Raises:
            openai.APIError: the create failed for good (no run is known to exist). Once
                the run exists, API errors end the drive as an outcome instead
                (``abandoned``, or ``lost_handle`` for a 404).
        """
        self._reserve(thread_id)
        flow = self._flow(
            thread_id,
            stream=stream,
            cancel_token=cancel_token,
            allowed_tools=allowed_tools,
            on_active_run=on_active_run,
        )
        outcome: RunOutcome | None = None
        try:
            outcome = await _outcome(self._pump(flow, flow.create(assistant_id, create_args)))
        finally:
            self._settle(thread_id, flow, outcome)
        return outcome

    async def drive(
        self, *, thread_id: str, run_id: str, cancel_token: CancelToken | None = None
    ) -> RunOutcome:
        """Attach to an existing run and drive it to an end.

        A run this controller (or its store) drove before is continued with its lifecycle and
        tool ledger: a tool call that ran is never run again.

        Raises:
            openai.APIError: never for the run itself: API errors that outlast their retries end
                the drive as an outcome (``abandoned``, or ``lost_handle`` for a 404).
        """
        flow, gen = self._attach(thread_id, run_id, cancel_token)
        outcome = await _outcome(self._pump(flow, gen))
        self._keep(outcome)
        if outcome.status in ASSISTANTS_RUN.terminal_values:
            self._release(thread_id, run_id)
        return outcome

    async def cancel(self, *, thread_id: str, run_id: str) -> RunOutcome:
        """Cancel a run and follow it until it ends or the cancelling deadline passes.

        Raises:
            openai.APIError: never for the run itself: API errors that outlast their retries end
                the drive as an outcome (``abandoned``, or ``lost_handle`` for a 404).
        """
        flow = self._flow(thread_id, run_id)
        outcome = await _outcome(self._pump(flow, flow.cancel()))
        if outcome.status in ASSISTANTS_RUN.terminal_values:
            self._release(thread_id, run_id)
        return outcome

    async def recover(self) -> list[RunOutcome]:
        """Continue after a crash from the store: every pending run, then every unbound create.

        For each run saved as not terminal, the lifecycle and ledger are restored and the server
        is read: a call whose effect is unknown (``started`` without ``finished``) is never run
        again and is reported (``unknown_effect``); recorded outputs are submitted when the run
        still waits for them, or marked delivered when it moved on; a run the server no longer
        knows (404) is reported ``lost_handle`` and closed in the store, never recreated. A create
        intent without a run id is looked up by its ``op_id`` on the thread and adopted.

        Returns:
            One outcome per pending run and per unbound create (``not_created`` when no run
            carries its ``op_id``: the create never got in).

        Raises:
            RuntimeError: the controller has no store.
            openai.APIError: looking up the run of an unbound create failed for good (a known run
                whose requests keep failing is reported ``abandoned`` instead).
        """
        outcomes: list[RunOutcome] = []
        for flow, gen in self._recovery():
            outcome = await _outcome(self._pump(flow, gen))
            self._settle(flow.thread_id, flow, outcome)
            outcomes.append(outcome)
        return outcomes

    async def events(
        self,
        *,
        thread_id: str,
        run_id: str | None = None,
        assistant_id: str | None = None,
        stream: bool | None = None,
        cancel_token: CancelToken | None = None,
        **create_args: Any,
    ) -> AsyncIterator[RunEvent]:
        """Drive a run, yielding events (see ``RunController.events``).

        Raises:
            openai.APIError: the create failed for good (no run is known to exist).
        """
        flow = self._flow(thread_id, run_id, stream=stream, watch=True, cancel_token=cancel_token)
        async for event in self._pump(flow, self._entry(flow, assistant_id, create_args)):
            yield event

    # -- the driver ----------------------------------------------------------------------------

    async def _pump(
        self, flow: RunFlow, gen: Generator[Request, Reply, Any]
    ) -> AsyncIterator[RunEvent]:
        streams: list[Any] = []
        try:
            request = next(gen)
            while True:
                if isinstance(request, Emit):
                    yield request.event
                    reply = Reply()
                elif isinstance(request, Persist):
                    reply = Reply(request.action())  # the local store: inline; errors propagate
                else:
                    reply = await self._serve(request, streams)
                try:
                    request = gen.send(reply)
                except StopIteration as stop:
                    yield RunFinished(stop.value)
                    return
        finally:
            gen.close()
            for s in streams:
                await s.close()

    async def _serve(self, request: Request, streams: list[Any]) -> Reply:
        if isinstance(request, ApiCall):
            try:
                with assistants_quiet():
                    value = await start_call(self._client, request)
            except Exception as exc:
                return Reply(error=exc)
            if request.op.value.endswith("_stream"):
                streams.append(value)
            return Reply(value)
        if isinstance(request, Sleep):
            if request.seconds > 0:
                await self._sleep(request.seconds)
            return Reply()
        if isinstance(request, RunTools):
            return Reply(await run_tools_async(request))
        if isinstance(request, NextEvent):
            try:
                with anyio.fail_after(request.idle_timeout):
                    return Reply(await request.stream.__anext__())
            except StopAsyncIteration:
                return Reply(END_OF_STREAM)
            except Exception as exc:  # dropped stream, idle timeout
                return Reply(error=exc)
        if isinstance(request, CloseStream):
            await request.stream.close()
            if request.stream in streams:
                streams.remove(request.stream)
            return Reply()
        raise TypeError(f"unknown request {request!r}")  # pragma: no cover


async def _outcome(events: AsyncIterator[RunEvent]) -> RunOutcome:
    try:
        async for event in events:
            if isinstance(event, RunFinished):
                return event.outcome
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
    raise RuntimeError("the flow ended without an outcome")  # pragma: no cover
