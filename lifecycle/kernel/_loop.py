"""The follow loop, polling, deadlines, cancel, and how each entry point starts and finishes.

Theory of operation
-------------------
One loop follows a run once it exists (:func:`follow`):

1. act (:func:`act`): the caller's cancel signal sends one cancel; a ``DispatchTools`` command
   of the lifecycle starts a tool round (``_rounds.py``), unless a cancel was sent;
2. stop when the lifecycle is terminal (the ending is ``terminal``, or ``deadline`` when a
   deadline made the drive cancel);
3. apply the deadlines: the nearest one (the status's own, the overall one, or, once a cancel was
   sent, the cancelling one) either sends a cancel (``cancel_on_timeout``) or stops the drive;
4. wait what the poll schedule says (cut short at the next deadline) and poll.

A poll that fails for good (retries spent) or answers garbage is a *lost observation*: the loop
polls again after the schedule's wait (a 429's ``retry-after`` first); the deadlines bound it. A
404 ends the drive ``lost_handle``; any other error that is not retryable ends it ``abandoned``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from lifecycle._ledger import ToolLedger
from lifecycle._machine import RunLifecycle
from lifecycle._records import DispatchTools, Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._durable import (
    abandon_create,
    begin_create,
    close_run,
    restore_effects,
    save,
)
from lifecycle.kernel._ending import Ending, EndingKind
from lifecycle.kernel._errors import CallFailed, DeadlineReached, OutcomeUnknown, Stop
from lifecycle.kernel._messages import Failure, FailureKind, HttpResponse, StreamOpened
from lifecycle.kernel._results import DriveResult
from lifecycle.kernel._rounds import reconcile_submit, tool_round
from lifecycle.kernel._schedule import retry_delay
from lifecycle.kernel._stream import consume

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = [
    "act",
    "adopt_body",
    "attach_body",
    "cancel_body",
    "create_body",
    "finish",
    "follow",
    "interrupted",
    "poll",
    "resume_body",
    "send_cancel",
]


# -- entry points (bodies run under Drive.guarded) ---------------------------------------------


def create_body(d: Drive, args: Mapping[str, Any], op_id: str) -> Flow:
    """Create the run (intent recorded first), then follow it."""
    yield from begin_create(d, op_id)
    handle = yield from d.binding.create(d, args, op_id, stream=d.streaming)
    if isinstance(handle, StreamOpened):
        yield from consume(d, handle.handle)
    yield from follow(d)


def attach_body(d: Drive) -> Flow:
    """Read an existing run, then follow it."""
    yield from read(d)
    yield from follow(d)


def resume_body(
    d: Drive,
    lifecycle: RunLifecycle,
    ledger: ToolLedger,
    op_id: str | None,
    started: Collection[str],
    unfinished: Collection[str],
) -> Flow:
    """Continue a run an earlier drive saved: its lifecycle, ledger and effect log.

    A call recorded ``started`` without an output is never run again (``unknown_effect``). A
    round whose outputs were all recorded is reconciled like a submit whose answer was lost
    (delivered if the run moved on, submitted if it still waits).
    """
    d.lc = lifecycle
    d.ledger = ledger
    d.op_id = op_id
    d.round = max((e.round for e in ledger.entries.values()), default=0)
    yield from restore_effects(d, started, unfinished)
    ids = [c.id for c in d.lc.pending_tool_calls]
    if d.lc.awaiting_client and ids and not d.ledger.pending(ids):
        settled = yield from reconcile_submit(d, ids)
        if not settled:
            d.pending_round = d.lc.pending_tool_calls
    else:
        yield from read(d)
        if d.lc.awaiting_client and d.lc.pending_tool_calls:
            d.pending_round = d.lc.pending_tool_calls
    yield from follow(d)


def adopt_body(d: Drive, op_id: str) -> Flow:
    """Find the run a create intent produced and follow it; ``not_created`` when none did."""
    d.op_id = op_id
    found = yield from d.binding.find_created(d, op_id)
    if not found:
        yield from abandon_create(d)
        raise Stop(d.ending(EndingKind.NOT_CREATED, status=""))
    yield from follow(d)


def cancel_body(d: Drive) -> Flow:
    """Cancel an existing run and follow it until it ends (or the cancelling deadline)."""
    d.user_cancel_seen = True
    d.cancel_requested = True  # even if the run turns out to have ended: a lost race
    yield from read(d)
    if not d.lc.is_terminal:
        yield from send_cancel(d)
    yield from follow(d)


def interrupted(d: Drive) -> Flow:
    """The task or thread driving the run was interrupted: send one cancel for a live run
    (one attempt, no retry), then finish ``interrupted``. The driver bounds and shields it."""
    if d.run_id and not d.lc.is_terminal and not d.cancel_requested:
        d.lc.request_cancel()
        d.cancel_requested = True
        try:
            response = yield from d.call(
                "cancel", d.binding.cancel(d.scope, d.run_id), mutating=True
            )
            yield from d.observe(d.parse(response), Via.CLIENT)
        except (CallFailed, Stop, DeadlineReached) as exc:
            yield from d.note(logging.WARNING, "cancel after interruption failed", error=str(exc))
    return (yield from finish(d, d.ending(EndingKind.INTERRUPTED)))


# -- the loop ----------------------------------------------------------------------------------


def follow(d: Drive) -> Flow:
    """Follow the run until it ends; never returns normally (raises :class:`Stop`)."""
    while True:
        yield from act(d)
        if d.lc.is_terminal:
            raise Stop(d.settled())
        if d.late_unsaved:
            yield from save(d)
        due = d.deadline_due()
        try:
            if due is not None:
                raise DeadlineReached(due)
            yield from d.sleep(d.schedule.wait)
            yield from poll(d)
        except DeadlineReached as reached:
            yield from on_deadline(d, reached.name)
            continue
        if d.watch:
            yield from watch(d)


def act(d: Drive) -> Flow:
    """Act on the caller's cancel signal and on the lifecycle's commands (tool rounds)."""
    signal = d.cancel_signal
    if signal is not None and not d.user_cancel_seen and signal.cancelled:
        d.user_cancel_seen = True
        if not d.lc.is_terminal and not d.cancel_requested:
            yield from send_cancel(d)
        d.cancel_requested = True
    # a round's answer (a stream, or a fast server) may already show the next round
    while True:
        for command in d.lc.take_commands():
            if isinstance(command, DispatchTools):
                d.pending_round = command.tool_calls
        if d.pending_round is None:
            return
        if not d.lc.awaiting_client or d.cancel_requested:
            d.pending_round = None
            return
        if d.round >= d.config.max_tool_rounds:
            # OWASP LLM "unbounded consumption": stop a model that keeps calling tools
            d.pending_round = None
            d.deadline = d.deadline or "tool_round_limit"
            yield from d.note(logging.WARNING, "tool round limit reached", rounds=d.round)
            yield from send_cancel(d)
            return
        calls, d.pending_round = d.pending_round, None
        yield from tool_round(d, calls)


def on_deadline(d: Drive, name: str) -> Flow:
    """A deadline passed: send a cancel (once), or stop."""
    d.deadline = d.deadline or name
    if d.cancel_started is not None:
        raise Stop(d.ending(EndingKind.CANCEL_UNCONFIRMED))
    yield from d.note(logging.WARNING, "deadline passed", deadline=name, state=d.lc._status)
    if d.config.cancel_on_timeout and d.lc._status in d.facts.cancellable:
        yield from send_cancel(d)
        return
    raise Stop(d.ending(EndingKind.DEADLINE))


def read(d: Drive) -> Flow:
    """Read the run once; a failure ends the drive (see :meth:`Drive.guarded`)."""
    response = yield from d.call("retrieve", d.binding.retrieve(d.scope, d.run_id))
    changed = yield from d.observe(d.parse(response), Via.POLL)
    d.schedule.after_poll(response.headers, changed=changed)


def poll(d: Drive) -> Flow:
    """Poll the run. A failed or garbled poll is a lost observation: the loop polls again."""
    try:
        response = yield from d.call("retrieve", d.binding.retrieve(d.scope, d.run_id))
    except CallFailed as failed:
        failure = failed.failure
        if not d.retryable(failure):
            raise
        yield from d.note(
            logging.WARNING, "poll failed after its retries; polling on", error=failure.reason
        )
        d.schedule.after_failure(failure)
        return
    assert isinstance(response, HttpResponse)
    parsed = d.binding.parse(response.body)
    if isinstance(parsed, Failure):
        yield from d.note(
            logging.WARNING, "poll answered garbage; polling on", error=parsed.message
        )
        d.schedule.after_failure(parsed)
        return
    changed = yield from d.observe(parsed, Via.POLL)
    d.schedule.after_poll(response.headers, changed=changed)


def watch(d: Drive) -> Flow:
    """Report completed steps and messages (for ``events()`` callers)."""
    try:
        items = yield from d.binding.watch(d)
    except CallFailed as failed:
        yield from d.note(logging.INFO, "could not list steps", error=failed.failure.reason)
        return
    for item in items:
        yield from d.report(item)


# -- cancel --------------------------------------------------------------------------------------


def send_cancel(d: Drive) -> Flow:
    """Send one cancel (resent only when it surely did not get in) and observe the answer."""
    d.lc.request_cancel()
    d.cancel_requested = True
    if d.cancel_started is None:
        d.cancel_started = d.now
    attempts = 0
    while True:
        try:
            response = yield from d.call(
                "cancel", d.binding.cancel(d.scope, d.run_id), mutating=True
            )
        except OutcomeUnknown as unknown:
            yield from read(d)
            if d.lc.is_terminal or d.lc._status in d.facts.cancel_targets:
                return
            attempts += 1
            if attempts >= d.config.retry.max_attempts:
                raise CallFailed(unknown.op, unknown.failure) from None
            yield from d.sleep(retry_delay(None, attempts, d.config.retry, d.rng))
            continue
        except CallFailed as failed:
            if failed.failure.kind is FailureKind.STATUS and failed.failure.status == 400:
                yield from d.note(logging.INFO, "cancel refused; re-reading the run")
                yield from read(d)
                return
            raise
        readable = yield from d.answered(response)
        if not readable:  # applied (2xx), but unreadable: read the run
            yield from read(d)
        return


# -- the end -----------------------------------------------------------------------------------


def finish(d: Drive, ending: Ending) -> Flow:
    """Settle every output with the ending's reason, save, and build the result."""
    if d.config.fetch_messages and ending.terminal and d.run_id:
        try:
            items = yield from d.binding.messages(d)
        except CallFailed as failed:  # the answer is a bonus; the outcome stands
            yield from d.note(
                logging.WARNING, "could not list messages", error=failed.failure.reason
            )
        else:
            for item in items:
                yield from d.report(item)
    # I2: no output is left in limbo; each one not delivered says why (a later drive of a live
    # run may still deliver it: the output stays recorded)
    open_ids = d.ledger.unsettled()
    if open_ids:
        d.ledger.undelivered(open_ids, reason=ending.undelivered_reason)
    yield from save(d)
    if not ending.terminal and ending.kind in (
        EndingKind.LOST_HANDLE,
        EndingKind.CANCEL_UNCONFIRMED,
        EndingKind.INTERRUPTED,
    ):
        yield from close_run(d, ending.kind.value)
    yield from d.note(logging.INFO, "run finished", status=ending.status, ending=str(ending))
    result: DriveResult = d.result(ending)
    return result
