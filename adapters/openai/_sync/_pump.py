# Generated from adapters/openai/_async/_pump.py by scripts/unasync.py: do not edit;
# change the async source and run `python scripts/unasync.py`.
"""Pumping a kernel drive: the part every controller of a twin shares.

Written once, as async code; the sync twin is generated from it (``scripts/unasync.py``). A
controller mixes :class:`SyncPump` in with its base (runs or chains), which supplies
``_finished`` (the last event, carrying the outcome) and ``_public`` (the public event for a
kernel event). What differs between the twins (how they wait) lives in ``_backends.py``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Generator, Iterator
from typing import Any

from adapters.openai._backends import SyncBackend
from adapters.openai._base import ControllerBase
from adapters.openai._errors import CRASH_AFTER, CrashPoint
from adapters.openai._logging import logger
from adapters.openai._tools import ToolRunner
from adapters.openai._wire import failure_of
from lifecycle.kernel import (
    ApiCall,
    AskApproval,
    CallFailed,
    CloseStream,
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

__all__ = ["SyncPump"]


class SyncPump(ControllerBase):
    """Performs a drive's requests with an async backend."""

    _io: SyncBackend

    def _finished(self, result: DriveResult) -> Any:  # pragma: no cover - supplied by the base
        raise NotImplementedError

    def _public(self, event: Any) -> Any:  # pragma: no cover - supplied by the base
        raise NotImplementedError

    def _outcome_of(self, drive: Drive, runner: ToolRunner, flow: Flow) -> Any:
        """Pump a drive to its end; its outcome (the last event's)."""
        last: Any = None
        try:
            with contextlib.closing(self._pump(drive, runner, flow)) as pump:
                for event in pump:
                    last = event
        except CallFailed as failed:
            raise _cause(failed) from None
        if last is None:  # pragma: no cover - a drive always ends with its result
            raise RuntimeError("the drive ended without an outcome")
        return last.outcome

    def _events_of(self, drive: Drive, runner: ToolRunner, flow: Flow) -> Iterator[Any]:
        """Pump a drive to its end, yielding its public events (the last one: its result)."""
        try:
            with contextlib.closing(self._pump(drive, runner, flow, events=True)) as pump:
                for event in pump:
                    yield event
        except CallFailed as failed:
            raise _cause(failed) from None

    def _pump(
        self,
        drive: Drive,
        runner: ToolRunner,
        flow: Flow,
        *,
        events: bool = False,
        interruptible: bool = True,
    ) -> Generator[Any, None, None]:
        """Perform the drive's requests until it returns its result; yield the public events
        (when ``events``) and finally :class:`RunFinished`."""
        clock, wall = self.clock, self.wall_clock
        streams: list[Any] = []
        marks: dict[str, int] = {}  # webhook counts per object when it was last read
        try:
            request = next(flow)
            while True:
                if isinstance(request, Emit):
                    self._log(request.event, drive.scope)
                    public = self._public(request.event) if events else None
                    if public is not None:
                        yield public
                    reply = Reply(None, None, clock(), wall(), runner.drain())
                else:
                    reply = self._perform(request, drive, runner, streams, marks)
                try:
                    request = flow.send(reply)
                except StopIteration as stop:
                    result: DriveResult = stop.value
                    runner.hand_over(result.ledger.record_late)
                    yield self._finished(result)
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
        self,
        request: Request,
        drive: Drive,
        runner: ToolRunner,
        streams: list[Any],
        marks: dict[str, int],
    ) -> Reply:
        """Carry out one request (all but ``Emit``); crash points fire here, at the seam."""
        io = self._io
        value: Any = None
        failure: Failure | None = None
        if isinstance(request, ApiCall):
            value, failure = self._send(request, drive, streams, marks)
        elif isinstance(request, Sleep):
            value = self._wait(request, marks)
        elif isinstance(request, AskApproval):
            value = io.approve(request, self.approver)
        elif isinstance(request, RunTools):
            value = io.run_tools(request, runner)
            if self.crash_at == "after_tool_effect":
                raise CrashPoint(self.crash_at)
        elif isinstance(request, NextEvent):
            idle = request.idle_timeout  # the kernel cuts it at a nearer deadline
            cut = idle if idle < self.config.stream_idle_timeout_s else None
            try:
                value = io.next_event(request.handle, cut)
            except TimeoutError:
                failure = Failure(FailureKind.TIMEOUT, message="stream read cut at a deadline")
            except Exception as exc:
                failure = failure_of(exc, streaming=True) or Failure(
                    FailureKind.STREAM, message=type(exc).__name__
                )
        elif isinstance(request, CloseStream):
            if request.handle in streams:
                streams.remove(request.handle)
                io.close_stream(request.handle)
        else:
            if self.crash_at == "before_submit" and getattr(request, "phase", "") == "submitted":
                raise CrashPoint(self.crash_at)  # marking a submit is part of sending it
            value = io.store(self._store_action(request))
        return Reply(value, failure, self.clock(), self.wall_clock(), runner.drain())

    def _wait(self, request: Sleep, marks: dict[str, int]) -> bool | None:
        """Sleep; with a webhook inbox, a wait between polls ends at a webhook about the run."""
        inbox = self.webhooks
        if inbox is None or not request.wake_on:
            self._io.sleep(request.seconds)
            return None
        since = marks.get(request.wake_on, 0)
        return self._io.wait_pushed(inbox, request.wake_on, since, request.seconds)

    def _send(
        self, request: ApiCall, drive: Drive, streams: list[Any], marks: dict[str, int]
    ) -> tuple[Any, Failure | None]:
        """Send an API request; an SDK exception becomes a :class:`Failure`."""
        if self.webhooks is not None and request.op == "retrieve":  # what this read covers
            marks[drive.run_id] = self.webhooks.count(drive.run_id)
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
