"""Carrying out the kernel's requests inside the workflow: activities, durable timers, history.

Theory of operation
-------------------
The workflow pumps a kernel drive exactly as the in-process controllers do (``_async/_pump.py``),
but each request becomes something Temporal records:

=================  ==============================================================================
``ApiCall``        the ``lifecycle.api_call`` activity, one attempt; an activity that never
                   answered (its worker died, a timeout) is a ``timeout`` :class:`Failure`: the
                   kernel resends a read and reconciles a write, as after a lost HTTP answer
``Sleep``          a durable timer, ended early by the caller's cancel (``wait_condition``);
                   a short one (under ``local_sleep_below_s``) a local activity that sleeps
``RunTools``       one ``lifecycle.run_tool`` activity per call, one attempt each, at most
                   ``max_concurrency`` at once within the round's budget; an activity that never
                   answered is ``ToolResult(lost=True)``: the kernel marks the call an unknown
                   effect, never runs it again and holds the round
``Emit``           ``workflow.logger`` (silent on replay) and the kept events of the ``events``
                   query
store requests     the workflow's own history: the effect log is kept here (continue-as-new
                   carries it); the lifecycle and the ledger are the drive's own
``NextEvent``...   never asked: the workflow drives with ``stream=False``
=================  ==============================================================================

Clock readings come from ``workflow.time()`` (the same value for ``now`` and ``wall``), so a
replay sees the same times and the kernel makes the same decisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, CancelledError

with workflow.unsafe.imports_passed_through():
    from adapters.temporal._data import (
        API_CALL,
        PAUSE,
        RUN_TOOL,
        TemporalOptions,
        ToolAnswer,
        ToolTask,
        WireAnswer,
        WireRequest,
    )
    from lifecycle import ToolRegistry
    from lifecycle._dispatch import Prepared
    from lifecycle.kernel import (
        ApiCall,
        BeginCreate,
        BindCreate,
        CloseRun,
        Emit,
        Failure,
        FailureKind,
        MessageSeen,
        Notice,
        RecordEffect,
        Request,
        RoundFinished,
        RoundStarted,
        RunTools,
        SaveRun,
        StatusSeen,
        StepSeen,
        ToolResult,
    )

__all__ = ["Keeper", "WorkflowIO", "event_of"]

_ONE_ATTEMPT = RetryPolicy(maximum_attempts=1)
#: events kept for the ``events`` query (the oldest are dropped)
MAX_EVENTS = 500


class WorkflowIO:
    """Performs a drive's I/O requests as activities and timers.

    Args:
        registry: the worker's tool registry (formats the outputs the workflow makes itself).
        options: how Temporal is used.
        request_timeout: the kernel's default request timeout.
        allowed: the tool names allowed for the run.
        cancelled: whether the caller asked for a cancel (ends a sleep early).
    """

    def __init__(
        self,
        registry: ToolRegistry,
        options: TemporalOptions,
        request_timeout: float,
        allowed: list[str] | None,
        cancelled: Callable[[], bool],
    ) -> None:
        self.registry = registry
        self.options = options
        self.request_timeout = request_timeout
        self.allowed = allowed
        self.cancelled = cancelled

    async def api(self, request: ApiCall) -> tuple[Any, Failure | None]:
        """Send a request through the API activity: ``(HttpResponse, None)`` or a failure."""
        wire = WireRequest.of(request.http, self.request_timeout)
        timeout = (wire.timeout or self.request_timeout) + self.options.api_grace_s
        try:
            answer: WireAnswer = await workflow.execute_activity(
                API_CALL,
                wire,
                result_type=WireAnswer,
                start_to_close_timeout=timedelta(seconds=timeout),
                heartbeat_timeout=self._heartbeat(),
                retry_policy=_ONE_ATTEMPT,
                summary=request.op,
            )
        except ActivityError as err:
            _cancelled(err)
            workflow.logger.warning("api activity lost: %s (%s)", request.op, err.message)
            lost = f"the {request.op} activity never answered: {_why(err)}"
            return None, Failure(FailureKind.TIMEOUT, message=lost)
        if answer.failure is not None:
            return None, answer.failure.failure()
        return answer.response(), None

    async def sleep(self, seconds: float) -> None:
        """A durable timer, cut short when the caller asks for a cancel; a short wait sleeps
        in a local activity instead (the server's timers tick by the second)."""
        if seconds <= 0 or self.cancelled():
            return
        if seconds < self.options.local_sleep_below_s:
            await workflow.execute_local_activity(
                PAUSE,
                seconds,
                start_to_close_timeout=timedelta(seconds=seconds + 5),
                retry_policy=_ONE_ATTEMPT,
            )
            return
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(self.cancelled, timeout=seconds)

    async def tools(self, request: RunTools) -> list[ToolResult]:
        """One activity per call, at most ``max_concurrency`` at once, within the budget."""
        deadline = workflow.time() + request.timeout
        gate = asyncio.Semaphore(max(1, request.max_concurrency))

        async def one(prepared: Prepared) -> ToolResult:
            async with gate:
                return await self._tool(prepared, deadline - workflow.time())

        return list(await asyncio.gather(*(one(p) for p in request.items)))

    async def _tool(self, prepared: Prepared, budget: float) -> ToolResult:
        call = prepared.call
        if budget <= 0:  # waited for a slot past the round's budget: it never started
            return ToolResult(self.registry.finish(call, timed_out=True), timed_out=True)
        task = ToolTask(call.id, call.name, call.arguments, self.allowed, budget)
        try:
            answer: ToolAnswer = await workflow.execute_activity(
                RUN_TOOL,
                task,
                result_type=ToolAnswer,
                start_to_close_timeout=timedelta(seconds=budget + self.options.tool_grace_s),
                heartbeat_timeout=self._heartbeat(),
                retry_policy=_ONE_ATTEMPT,
                summary=call.name,
            )
        except ActivityError as err:
            _cancelled(err)
            workflow.logger.error("tool activity lost: %s %s (%s)", call.name, call.id, _why(err))
            return ToolResult(self.registry.finish(call, timed_out=True), lost=True)
        return ToolResult(answer.tool_output(), timed_out=answer.timed_out)

    def _heartbeat(self) -> timedelta:
        return timedelta(seconds=self.options.heartbeat_timeout_s)


def _cancelled(err: ActivityError) -> None:
    """An activity cancelled because the workflow was: the workflow's cancellation goes on
    (the workflow interrupts the drive), it is not a lost answer."""
    if isinstance(err.cause, CancelledError):
        raise asyncio.CancelledError() from err


def _why(err: ActivityError) -> str:
    cause = err.cause
    return f"{type(cause).__name__}: {cause}" if cause is not None else err.message


class Keeper:
    """What the workflow keeps of the store requests and events: the effect log and the events
    of the ``events`` query, and the log lines."""

    def __init__(self, started: list[str] | None = None, unfinished: list[str] | None = None):
        #: call ids with a ``started`` effect, and those without a ``finished`` one yet
        self.started: set[str] = set(started or ())
        self.unfinished: set[str] = set(unfinished or ())
        self.events: list[dict[str, Any]] = []
        self.intents: dict[str, str] = {}
        self.closed: str | None = None

    def store(self, request: Request) -> None:
        """Keep what a store request says (the history is the store)."""
        if isinstance(request, RecordEffect):
            if request.phase == "started":
                self.started.add(request.call_id)
                self.unfinished.add(request.call_id)
            elif request.phase == "finished":
                self.unfinished.discard(request.call_id)
        elif isinstance(request, BeginCreate):
            self.intents.setdefault(request.op_id, "")
        elif isinstance(request, BindCreate):
            self.intents[request.op_id] = request.run_id
        elif isinstance(request, CloseRun):
            self.closed = request.reason
        elif not isinstance(request, SaveRun):  # pragma: no cover - every store request listed
            raise TypeError(f"not a store request: {request!r}")

    def emit(self, request: Emit, scope: str) -> None:
        """Log an event (never on replay) and keep it for the ``events`` query."""
        event = request.event
        if isinstance(event, Notice):
            fields = {**event.fields, "scope": scope}
            workflow.logger.log(event.level, event.message, extra={"fields": _plain(fields)})
        elif isinstance(event, StatusSeen):
            for e in event.entries:
                workflow.logger.info("transition %s -> %s via %s", e.source, e.dest, e.via)
        kept = event_of(event)
        if kept is not None:
            self.events.append(kept)
            del self.events[:-MAX_EVENTS]


def event_of(event: Any) -> dict[str, Any] | None:
    """A kernel event as a JSON dict for the ``events`` query (payloads left out)."""
    if isinstance(event, StatusSeen):
        entries = [
            {"source": e.source, "dest": e.dest, "via": e.via, "inferred": e.inferred}
            for e in event.entries
        ]
        return {
            "type": "status",
            "run_id": event.run_id,
            "status": event.status,
            "entries": entries,
        }
    if isinstance(event, RoundStarted):
        calls = [{"id": c.id, "name": c.name} for c in event.calls]
        return {"type": "round_started", "round": event.round, "calls": calls}
    if isinstance(event, RoundFinished):
        records = [{"id": r.id, "state": r.state, "error": r.error} for r in event.records]
        return {"type": "round_finished", "round": event.round, "records": records}
    if isinstance(event, MessageSeen):
        return {"type": "message", "run_id": event.run_id, "chars": len(event.text)}
    if isinstance(event, StepSeen):
        return {"type": "step", "run_id": event.run_id}
    if isinstance(event, Notice) and event.level >= logging.WARNING:
        return {"type": "notice", "message": event.message, "fields": _plain(event.fields)}
    return None


def _plain(fields: Any) -> dict[str, Any]:
    """Notice fields as JSON values (anything else as its text)."""
    out: dict[str, Any] = {}
    for key, value in dict(fields).items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[str(key)] = value
        elif isinstance(value, list | tuple):
            out[str(key)] = [str(v) for v in value]
        else:
            out[str(key)] = str(value)
    return out
