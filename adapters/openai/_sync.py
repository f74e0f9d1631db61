"""The sync driver and :class:`RunController`: pump the flow with blocking calls.

Tools run in a ``ThreadPoolExecutor`` (cap ``max_concurrency``); a tool past its budget is left
running and its late result is recorded in the ledger when it ends. Sleep is injectable.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Collection, Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

import anyio
from openai import OpenAI

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
    start_call,
)
from adapters.openai._outcome import RunEvent, RunFinished, RunOutcome
from lifecycle import ASSISTANTS_RUN, Prepared

__all__ = ["RunController", "run_tools_sync"]


def _call_tool(prepared: Prepared) -> Any:
    if prepared.is_async:

        async def _await() -> Any:
            return await prepared.call_tool()

        return anyio.run(_await)
    return prepared.call_tool()


def _late(req: RunTools, prepared: Prepared) -> Callable[[Future[Any]], None]:
    def done(fut: Future[Any]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        req.on_late(prepared, None if exc is not None else fut.result(), exc)

    return done


def run_tools_sync(req: RunTools) -> list[ToolResult]:
    """Run the prepared calls in threads, each within the round's timeout.

    Args:
        req: the calls, the timeout and the concurrency cap.

    Returns:
        One result per call, in order; calls still running at the timeout are ``timed_out`` and
        report their real result later through ``req.on_late``.
    """
    workers = max(1, min(req.max_concurrency, len(req.items)))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lifecycle-tool")
    try:
        futures = [pool.submit(_call_tool, p) for p in req.items]
        wait(futures, timeout=req.timeout)
        results: list[ToolResult] = []
        for prepared, fut in zip(req.items, futures, strict=True):
            if fut.done() and not fut.cancelled():
                exc = fut.exception()
                value = fut.result() if exc is None else None
                results.append(ToolResult(prepared, value=value, error=exc))
            else:
                fut.add_done_callback(_late(req, prepared))
                results.append(ToolResult(prepared, timed_out=True))
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


class RunController(ControllerBase):
    """Drive Assistants runs with a sync ``openai.OpenAI`` client.

    The client is used with ``max_retries=0``: this controller is the one retry layer.

    Args:
        client: the SDK client (its API key is never logged nor kept in any record).
        sleep: how to wait (default ``time.sleep``); tests pass a fake that moves a clock.
        **settings: see :class:`adapters.openai.ControllerBase` (tools, config, hooks,
            allowed_tools, stream, clock, wall_clock, rng).

    Example::

        controller = RunController(openai.OpenAI(), tools=registry)
        outcome = controller.run(thread_id=thread.id, assistant_id=assistant.id)
        print(outcome.status, outcome.text)
    """

    def __init__(
        self, client: OpenAI, *, sleep: Callable[[float], None] = time.sleep, **settings: Any
    ) -> None:
        super().__init__(**settings)
        self._client = client.with_options(max_retries=0, timeout=self.config.request_timeout_s)
        self._sleep = sleep
        self._redact = key_redactor(client.api_key)

    def run(
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
        """Create a run on ``thread_id`` and drive it to an end.

        Args:
            thread_id: the thread.
            assistant_id: the assistant.
            stream: follow the run by streaming (default: the controller's setting).
            cancel_token: set it (from a hook or another thread) to cancel the run.
            allowed_tools: restrict the tools for this run.
            **create_args: passed to ``runs.create`` (``metadata``, ``instructions``, ...).

        Returns:
            The outcome; a failed, expired, cancelled or incomplete run is not an error.

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
            outcome = _outcome(self._pump(flow, flow.create(assistant_id, create_args)))
        finally:
            self._settle(thread_id, flow, outcome)
        return outcome

    def drive(
        self, *, thread_id: str, run_id: str, cancel_token: CancelToken | None = None
    ) -> RunOutcome:
        """Attach to an existing run and drive it to an end (tool rounds included).

        A run this controller (or its store) drove before is continued with its lifecycle and
        tool ledger: a tool call that ran is never run again; its recorded output is submitted
        if the run still waits for it.

        Raises:
            openai.APIError: never for the run itself: API errors that outlast their retries end
                the drive as an outcome (``abandoned``, or ``lost_handle`` for a 404).
        """
        flow, gen = self._attach(thread_id, run_id, cancel_token)
        outcome = _outcome(self._pump(flow, gen))
        self._keep(outcome)
        if outcome.status in ASSISTANTS_RUN.terminal_values:
            self._release(thread_id, run_id)
        return outcome

    def cancel(self, *, thread_id: str, run_id: str) -> RunOutcome:
        """Cancel a run and follow it until it ends or the cancelling deadline passes.

        A cancel that loses the race to another terminal status is reported with
        ``outcome.cancel_lost_race``, not raised.

        Raises:
            openai.APIError: never for the run itself: API errors that outlast their retries end
                the drive as an outcome (``abandoned``, or ``lost_handle`` for a 404).
        """
        flow = self._flow(thread_id, run_id)
        outcome = _outcome(self._pump(flow, flow.cancel()))
        if outcome.status in ASSISTANTS_RUN.terminal_values:
            self._release(thread_id, run_id)
        return outcome

    def recover(self) -> list[RunOutcome]:
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
            outcome = _outcome(self._pump(flow, gen))
            self._settle(flow.thread_id, flow, outcome)
            outcomes.append(outcome)
        return outcomes

    def events(
        self,
        *,
        thread_id: str,
        run_id: str | None = None,
        assistant_id: str | None = None,
        stream: bool | None = None,
        cancel_token: CancelToken | None = None,
        **create_args: Any,
    ) -> Iterator[RunEvent]:
        """Drive a run (created when ``assistant_id`` is given, else ``run_id``), yielding events.

        Yields a :class:`StatusChanged` on every status change, :class:`StepCompleted` and
        :class:`MessageCompleted` for each newly completed step or message, tool round events,
        and finally one :class:`RunFinished` with the outcome.

        Raises:
            openai.APIError: the create failed for good (no run is known to exist).
        """
        flow = self._flow(thread_id, run_id, stream=stream, watch=True, cancel_token=cancel_token)
        yield from self._pump(flow, self._entry(flow, assistant_id, create_args))

    # -- the driver ----------------------------------------------------------------------------

    def _pump(
        self, flow: RunFlow, gen: Generator[Request, Reply, Any]
    ) -> Generator[RunEvent, None, None]:
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
                    reply = self._serve(request, streams)
                request = gen.send(reply)
        except StopIteration as stop:
            yield RunFinished(stop.value)
        finally:
            gen.close()
            for s in streams:
                s.close()

    def _serve(self, request: Request, streams: list[Any]) -> Reply:
        if isinstance(request, ApiCall):
            try:
                value = start_call(self._client, request)
            except Exception as exc:
                return Reply(error=exc)
            if request.op.value.endswith("_stream"):
                streams.append(value)
            return Reply(value)
        if isinstance(request, Sleep):
            if request.seconds > 0:
                self._sleep(request.seconds)
            return Reply()
        if isinstance(request, RunTools):
            return Reply(run_tools_sync(request))
        if isinstance(request, NextEvent):
            try:
                return Reply(next(request.stream))
            except StopIteration:
                return Reply(END_OF_STREAM)
            except Exception as exc:  # transport errors of a dropped stream, read timeouts
                return Reply(error=exc)
        if isinstance(request, CloseStream):
            request.stream.close()
            if request.stream in streams:
                streams.remove(request.stream)
            return Reply()
        raise TypeError(f"unknown request {request!r}")  # pragma: no cover


def _outcome(events: Generator[RunEvent, None, None]) -> RunOutcome:
    with contextlib.closing(events):
        for event in events:
            if isinstance(event, RunFinished):
                return event.outcome
    raise RuntimeError("the flow ended without an outcome")  # pragma: no cover
