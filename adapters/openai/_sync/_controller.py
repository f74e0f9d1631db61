# Generated from adapters/openai/_async/_controller.py by scripts/unasync.py: do not edit;
# change the async source and run `python scripts/unasync.py`.
"""The sync controller: drive runs by pumping the kernel's drives with ``OpenAI``.

The controller is written once, as the async code in ``_sync/_controller.py``; the sync twin in
``_sync/_controller.py`` is generated from it by ``scripts/unasync.py`` (CI runs it with
``--check``). What differs between the twins (how they wait) lives in ``_backends.py``.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import Callable, Collection, Generator, Iterator
from typing import Any

from openai import OpenAI

from adapters.openai._backends import SyncBackend
from adapters.openai._base import ControllerBase, key_redactor
from adapters.openai._errors import CRASH_AFTER, CrashPoint
from adapters.openai._logging import logger
from adapters.openai._outcome import RunEvent, RunFinished, RunOutcome, public_event
from adapters.openai._token import CancelToken
from adapters.openai._tools import ToolRunner
from adapters.openai._wire import failure_of
from adapters.store import RunStore
from lifecycle import Hooks, ToolRegistry
from lifecycle.kernel import (
    ActiveRunPolicy,
    ApiCall,
    CallFailed,
    CloseStream,
    ControllerConfig,
    Drive,
    DriveResult,
    Emit,
    Failure,
    FailureKind,
    Flow,
    NextEvent,
    Reply,
    Request,
    RunTools,
    Sleep,
    StreamOpened,
)

__all__ = ["RunController"]


class RunController(ControllerBase):
    """Drive Assistants runs with an ``openai.OpenAI`` client.

    The client is used with ``max_retries=0``: the controller is the one retry layer.

    Args:
        client: the SDK client (its API key is never logged nor kept in any record).
        tools: the tool registry (default: none; every tool call gets an ``unknown_tool`` output).
        config: poll, deadline, retry and tool settings (:class:`ControllerConfig`).
        hooks: lifecycle hooks passed to every run's :class:`lifecycle.RunLifecycle`.
        allowed_tools: the tool names allowed by default (``None``: all registered).
        stream: follow runs through the streaming API by default.
        clock: a monotonic clock in seconds, for deadlines.
        wall_clock: epoch seconds, for ``expires_at`` budgets and journal times.
        rng: the random source for backoff jitter and create-intent ids.
        store: a durable :class:`~adapters.store.RunStore` (see ``recover()``).
        crash_at: a named crash point (tests only).
        on_active_run: the default ``on_active_run`` policy of ``run()``.
        sleep: how to wait (tests pass one that moves a fake clock).

    Example::

        controller = RunController(openai.OpenAI(), tools=registry)
        outcome = controller.run(thread_id=thread.id, assistant_id=assistant.id)
        print(outcome.status, outcome.text)
    """

    def __init__(
        self,
        client: OpenAI,
        *,
        tools: ToolRegistry | None = None,
        config: ControllerConfig | None = None,
        hooks: Hooks | None = None,
        allowed_tools: Collection[str] | None = None,
        stream: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        store: RunStore | None = None,
        crash_at: str | None = None,
        on_active_run: ActiveRunPolicy = "fail",
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            tools=tools,
            config=config,
            hooks=hooks,
            allowed_tools=allowed_tools,
            stream=stream,
            clock=clock,
            wall_clock=wall_clock,
            rng=rng,
            store=store,
            crash_at=crash_at,
            on_active_run=on_active_run,
        )
        self._io = SyncBackend.for_client(client, self.config.request_timeout_s, sleep)
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
            on_active_run: what to do if the server refuses the create because another run is
                active on the thread: ``fail`` (``ThreadBusy``), ``adopt`` or ``cancel``.
            **create_args: passed to the create request (``metadata``, ``instructions``, ...).

        Returns:
            The outcome; a failed, expired, cancelled or incomplete run is not an error.

        Raises:
            ThreadBusy: a run is (or may be) active on the thread; nothing was created.
            openai.APIError: the create failed for good (no run is known to exist). Once the
                run exists, API errors end the drive as an outcome instead.
        """
        self._check_ids(thread_id=thread_id, assistant_id=assistant_id)
        self._claims.reserve(thread_id)
        drive, runner = self._new_drive(
            thread_id,
            stream=stream,
            cancel_token=cancel_token,
            allowed_tools=allowed_tools,
            on_active_run=on_active_run,
        )
        outcome: RunOutcome | None = None
        try:
            flow = drive.create({"assistant_id": assistant_id, **create_args})
            outcome = self._outcome_of(drive, runner, flow)
        finally:
            self._claims.settle(thread_id, drive.run_id, outcome)
        return outcome

    def drive(
        self, *, thread_id: str, run_id: str, cancel_token: CancelToken | None = None
    ) -> RunOutcome:
        """Attach to an existing run and drive it to an end (tool rounds included).

        A run this controller (or its store) drove before is continued with its lifecycle and
        tool ledger: a tool call that ran is never run again; its recorded output is submitted
        if the run still waits for it.
        """
        self._check_ids(thread_id=thread_id, run_id=run_id)
        drive, runner, flow = self._attach(thread_id, run_id, cancel_token)
        outcome = self._outcome_of(drive, runner, flow)
        self._claims.keep(outcome)
        if outcome.ending.terminal:
            self._claims.release(thread_id, run_id)
        return outcome

    def cancel(self, *, thread_id: str, run_id: str) -> RunOutcome:
        """Cancel a run and follow it until it ends or the cancelling deadline passes.

        A cancel that loses the race to another terminal status is reported with
        ``outcome.cancel_lost_race``, not raised.
        """
        self._check_ids(thread_id=thread_id, run_id=run_id)
        drive, runner = self._new_drive(thread_id, run_id)
        outcome = self._outcome_of(drive, runner, drive.cancel())
        if outcome.ending.terminal:
            self._claims.release(thread_id, run_id)
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
        """
        outcomes: list[RunOutcome] = []
        for drive, runner, flow in self._recovery():
            outcome = self._outcome_of(drive, runner, flow)
            self._claims.settle(drive.scope, drive.run_id, outcome)
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
        """
        drive, runner = self._new_drive(
            thread_id, run_id or "", stream=stream, watch=True, cancel_token=cancel_token
        )
        if assistant_id is not None:
            flow = drive.create({"assistant_id": assistant_id, **create_args})
        else:
            self._check_ids(thread_id=thread_id, run_id=run_id or "")
            flow = drive.attach()
        try:
            with contextlib.closing(self._pump(drive, runner, flow, events=True)) as pump:
                for event in pump:
                    yield event
        except CallFailed as failed:
            raise _cause(failed) from None

    # -- the pump ------------------------------------------------------------------------------

    def _outcome_of(self, drive: Drive, runner: ToolRunner, flow: Flow) -> RunOutcome:
        try:
            with contextlib.closing(self._pump(drive, runner, flow)) as pump:
                for event in pump:
                    if type(event) is RunFinished:
                        return event.outcome
        except CallFailed as failed:
            raise _cause(failed) from None
        raise RuntimeError("the drive ended without an outcome")  # pragma: no cover

    def _pump(
        self,
        drive: Drive,
        runner: ToolRunner,
        flow: Flow,
        *,
        events: bool = False,
        interruptible: bool = True,
    ) -> Generator[RunEvent, None, None]:
        """Perform the drive's requests until it returns its result; yield the public events
        (when ``events``) and finally :class:`RunFinished`."""
        clock, wall = self.clock, self.wall_clock
        streams: list[Any] = []
        try:
            request = next(flow)
            while True:
                if isinstance(request, Emit):
                    self._log(request.event, drive.scope)
                    public = public_event(request.event) if events else None
                    if public is not None:
                        yield public
                    reply = Reply(None, None, clock(), wall(), runner.drain())
                else:
                    reply = self._perform(request, drive, runner, streams)
                try:
                    request = flow.send(reply)
                except StopIteration as stop:
                    result: DriveResult = stop.value
                    runner.hand_over(result.ledger.record_late)
                    yield RunFinished(self._outcome(result))
                    return
        except BaseException as exc:
            if interruptible and isinstance(exc, self._io.interruptions()) and drive.run_id:
                flow.close()
                self._interrupted(drive, runner)
            raise
        finally:
            flow.close()
            for handle in streams:
                with contextlib.suppress(Exception):
                    self._io.close_stream(handle)

    def _perform(
        self, request: Request, drive: Drive, runner: ToolRunner, streams: list[Any]
    ) -> Reply:
        """Carry out one request (all but ``Emit``); crash points fire here, at the seam."""
        io = self._io
        value: Any = None
        failure: Failure | None = None
        if isinstance(request, ApiCall):
            value, failure = self._send(request, drive, streams)
        elif isinstance(request, Sleep):
            io.sleep(request.seconds)
        elif isinstance(request, RunTools):
            value = io.run_tools(request, runner)
            if self.crash_at == "after_tool_effect":
                raise CrashPoint(self.crash_at)
        elif isinstance(request, NextEvent):
            try:
                value = io.next_event(request.handle)
            except Exception as exc:
                failure = failure_of(exc, streaming=True) or Failure(
                    FailureKind.STREAM, message=type(exc).__name__
                )
        elif isinstance(request, CloseStream):
            if request.handle in streams:
                streams.remove(request.handle)
                io.close_stream(request.handle)
        else:
            value = io.store(self._store_action(request))
        return Reply(value, failure, self.clock(), self.wall_clock(), runner.drain())

    def _send(
        self, request: ApiCall, drive: Drive, streams: list[Any]
    ) -> tuple[Any, Failure | None]:
        """Send an API request; an SDK exception becomes a :class:`Failure`."""
        crash = self.crash_at
        if crash == "before_submit" and request.op == "submit":
            raise CrashPoint(crash)
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("request", extra={"op": request.op, "run_id": drive.run_id})
        try:
            value = self._io.send(request.http)
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            return None, failure
        if isinstance(value, StreamOpened):
            streams.append(value.handle)
        if crash is not None and CRASH_AFTER.get(request.op) == crash:
            raise CrashPoint(crash)
        return value, None

    def _interrupted(self, drive: Drive, runner: ToolRunner) -> None:
        """The drive was interrupted (its task cancelled, or Ctrl-C): one cancel for the run,
        shielded and bounded by ``interrupt_cancel_s``; the store records it ``interrupted``."""
        with self._io.shielded(self.config.interrupt_cancel_s):
            flow = drive.interrupted()
            with contextlib.closing(self._pump(drive, runner, flow, interruptible=False)) as pump:
                for _ in pump:
                    pass


def _cause(failed: CallFailed) -> BaseException:
    """The SDK exception behind a create that failed for good (the kernel's error otherwise)."""
    cause = failed.failure.cause
    return cause if isinstance(cause, Exception) else failed
