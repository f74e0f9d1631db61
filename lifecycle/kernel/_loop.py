"""The entry points and the follow loop: how each drive starts, and the loop that follows a run.

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

Reading and polling are in ``_poll.py``, deadlines and cancel in ``_cancel.py``, tool rounds in
``_rounds.py``, the end in ``_finish.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from lifecycle._ledger import ToolLedger
from lifecycle._machine import RunLifecycle
from lifecycle._records import DispatchTools, Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._cancel import send_cancel
from lifecycle.kernel._deadlines import on_deadline, overrun
from lifecycle.kernel._durable import abandon_create, begin_create, restore_effects, save
from lifecycle.kernel._ending import EndingKind
from lifecycle.kernel._errors import CallFailed, DeadlineReached, Stop
from lifecycle.kernel._finish import settled
from lifecycle.kernel._messages import Failure, FailureKind, StreamOpened
from lifecycle.kernel._poll import first_read, poll
from lifecycle.kernel._rounds import reconcile_submit, refuse_resend, tool_round
from lifecycle.kernel._stream import consume

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = [
    "act",
    "adopt_body",
    "attach_body",
    "cancel_body",
    "create_body",
    "follow",
    "resume_body",
    "watch",
]


# -- entry points (bodies run under Drive.guarded) ---------------------------------------------


def create_body(d: Drive, args: Mapping[str, Any], op_id: str) -> Flow:
    """Create the run (intent recorded first), then follow it."""
    yield from begin_create(d, op_id)
    handle = yield from d.binding.create(d, args, op_id, stream=d.streaming)
    if isinstance(handle, StreamOpened):
        yield from consume(d, handle.handle)
        if not d.run_id:  # the stream ended before it named the run
            yield from _find_unnamed(d, op_id)
    return (yield from follow(d))


def _find_unnamed(d: Drive, op_id: str) -> Flow:
    """A create's stream ended before it named the run: look the run up by the create's op id
    where the API can; else the create's outcome is unknown (raised; the intent stays open for
    ``recover()``). Never poll an empty id."""
    if d.binding.capabilities.finds_lost_creates:
        found = yield from d.binding.find_created(d, op_id)
        if found:
            return
    message = "the create's stream ended before it named the run"
    raise CallFailed("create", Failure(FailureKind.STREAM, message=message))


def attach_body(d: Drive) -> Flow:
    """Read an existing run, then follow it."""
    yield from first_read(d)
    return (yield from follow(d))


def resume_body(
    d: Drive,
    lifecycle: RunLifecycle,
    ledger: ToolLedger,
    op_id: str | None,
    started: Collection[str],
    unfinished: Collection[str],
    submitted: Collection[str] = (),
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
    yield from restore_effects(d, started, unfinished, submitted)
    ids = [c.id for c in d.lc.pending_tool_calls]
    checks = d.binding.capabilities.checks_lost_submits
    if not checks and d.lc.awaiting_client:
        # a chain: its outputs go out in a new object, so no read of the one that asked for
        # them tells their delivery. A round an earlier drive may have sent (in an object we
        # cannot name) is never sent again; any other is answered below like a new one
        yield from refuse_resend(d, ids)
    if checks and d.lc.awaiting_client and ids and not d.ledger.pending(ids):
        settled = yield from reconcile_submit(d, ids)
        if settled:
            return (yield from follow(d))
    else:
        yield from first_read(d)
    while d.last is None and d.lc.awaiting_client and d.lc.pending_tool_calls:
        # no object of our own read yet (a lost or misrouted read), and a round to answer: its
        # answer is built from the object as the server shows it (a chain's create arguments,
        # which calls are approvals), so poll again (within the deadlines) before anything is sent
        yield from d.sleep(d.schedule.wait)
        yield from poll(d)
    if d.lc.awaiting_client and d.lc.pending_tool_calls:
        d.pending_round = d.lc.pending_tool_calls
    return (yield from follow(d))


def adopt_body(d: Drive, op_id: str) -> Flow:
    """Find the run a create intent produced and follow it; ``not_created`` when none did."""
    d.op_id = op_id
    if not d.binding.capabilities.finds_lost_creates:
        # the API cannot look a create up: the intent stays open; nothing is created again
        raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, status="", detail="create"))
    try:
        found = yield from d.binding.find_created(d, op_id)
    except CallFailed as failed:
        # still unknown whether it got in: the intent stays open for the next recover()
        reason = failed.failure.reason
        yield from d.note(logging.WARNING, "unknown create not looked up", error=reason)
        raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, status="", detail="create")) from None
    if not found:
        yield from abandon_create(d)
        raise Stop(d.ending(EndingKind.NOT_CREATED, status=""))
    return (yield from follow(d))


def cancel_body(d: Drive) -> Flow:
    """Cancel an existing run and follow it until it ends (or the cancelling deadline)."""
    d.user_cancel_seen = True
    d.cancel_requested = True  # even if the run turns out to have ended: a lost race
    yield from first_read(d)
    if not d.lc.is_terminal:
        yield from send_cancel(d)
    return (yield from follow(d))


# -- the loop ----------------------------------------------------------------------------------


def follow(d: Drive) -> Flow:
    """Follow the run until the lifecycle is terminal. Returns the :class:`Ending`; every
    other end (a held round, a deadline that stops the drive...) raises :class:`Stop`."""
    while True:
        yield from act(d)
        if d.lc.is_terminal:
            return settled(d)
        if d.late_unsaved:
            yield from save(d)
        try:  # a deadline already passed raises here, before any wait or request
            woken = yield from d.sleep(d.schedule.wait, wake=True)
            yield from poll(d, Via.WEBHOOK if woken else Via.POLL)
            if not d.lc.is_terminal:
                overrun(d)  # a wait that overran a deadline: its action before a new round
        except DeadlineReached as reached:
            yield from on_deadline(d, reached.name)
            continue
        if d.watch:
            yield from watch(d)


def act(d: Drive) -> Flow:
    """Act on the caller's cancel signal and on the lifecycle's commands (tool rounds)."""
    signal = d.cancel_signal
    if d.observe_only:  # a watcher never acts: it only follows
        waiting = bool(d.lc.take_commands())
        if signal is not None and signal.cancelled:
            raise Stop(d.ending(EndingKind.INTERRUPTED, detail="stopped watching"))
        if waiting and d.binding.capabilities.idle_while_awaiting:
            # nothing more happens to this object: its client answers with a new one, which a
            # watcher cannot name
            raise Stop(d.ending(EndingKind.HELD, detail="awaiting_client"))
        return
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


def watch(d: Drive) -> Flow:
    """Report completed steps and messages (for ``events()`` callers)."""
    try:
        items = yield from d.binding.watch(d)
    except CallFailed as failed:
        yield from d.note(logging.INFO, "could not list steps", error=failed.failure.reason)
        return
    for item in items:
        yield from d.report(item)
