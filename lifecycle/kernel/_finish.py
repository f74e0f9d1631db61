"""How a drive ends: the one place where an :class:`Ending` is chosen for what stopped it, and
where the outputs are settled and the result is built.

Every stop is raised as :class:`~lifecycle.kernel._errors.Stop` with its ending by the code that
stops (a terminal status, a deadline, a held round...), or is a control-flow error turned into
one here (:func:`guarded`): a request that failed for good ends ``abandoned`` (``lost_handle`` for a
404), a deadline that cut a wait short ends ``deadline`` (``cancel_unconfirmed`` once a cancel
was out). Before any run exists, a failed create is raised to the caller instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lifecycle._ledger import CallState
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._durable import abandon_create, close_run, save
from lifecycle.kernel._ending import Ending, EndingKind
from lifecycle.kernel._errors import CallFailed, DeadlineReached, Stop, ThreadBusy
from lifecycle.kernel._messages import Failure, FailureKind
from lifecycle.kernel._results import DriveResult

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["failed_ending", "finish", "guarded", "result", "settled"]


def settled(d: Drive) -> Ending:
    """The ending of a run the lifecycle saw terminal: the deadline's, if one passed."""
    kind = EndingKind.DEADLINE if d.deadline is not None else EndingKind.TERMINAL
    return d.ending(kind)


def guarded(d: Drive, body: Flow) -> Flow:
    """Drive ``body`` to its ending, then finish. Returns the :class:`DriveResult`.

    Once the run exists, an API error that outlasted its retries ends the drive with a
    report, never an exception: a 404 is ``lost_handle``, anything else ``abandoned`` (the
    run stays pending in the store for a later ``recover()``).

    Raises:
        CallFailed: a request failed for good before any run was known to exist (a create
            refused by the server closes its intent; one whose outcome is unknown leaves
            it open, so ``recover()`` can look the run up).
        ThreadBusy: the Assistants binding could not clear the thread.
    """
    try:
        ending = yield from body  # a body returns the ending of a run seen terminal
    except Stop as stop:
        ending = stop.ending
    except CallFailed as failed:
        if not d.run_id:
            failure = failed.failure
            # the create refused: no run exists for its intent (a failed lookup of a create
            # whose answer was lost proves nothing: that intent stays open)
            refused = failure.kind is FailureKind.STATUS and not failure.outcome_unknown
            if failed.op == "create" and refused:
                yield from abandon_create(d)
            raise CallFailed(failed.op, failed.failure) from None
        ending = failed_ending(d, failed)
    except DeadlineReached as reached:
        if not d.run_id:  # the intent stays open: recover() looks the run up
            timeout = Failure(FailureKind.TIMEOUT, message=f"{reached.name} deadline passed")
            raise CallFailed("create", timeout) from None
        d.deadline = d.deadline or reached.name
        cancelling = d.cancel_started is not None  # a deadline cut the cancel short
        ending = d.ending(EndingKind.CANCEL_UNCONFIRMED if cancelling else EndingKind.DEADLINE)
    except ThreadBusy:
        yield from abandon_create(d)
        raise
    return (yield from finish(d, ending))


def failed_ending(d: Drive, failed: CallFailed) -> Ending:
    failure = failed.failure
    if failure.kind is FailureKind.STATUS and failure.status == 404:
        return d.ending(EndingKind.LOST_HANDLE)
    return d.ending(EndingKind.ABANDONED, detail=failure.reason)


def result(d: Drive, ending: Ending) -> DriveResult:
    """The :class:`DriveResult` for ``ending``."""
    lc = d.lc
    status = ending.status
    lost_race = d.cancel_requested and ending.terminal
    lost_race = lost_race and status not in d.facts.cancel_success
    return DriveResult(
        ending=ending,
        run_id=d.run_id,
        scope=d.scope,
        lifecycle_name=lc.spec.name,
        history=lc.history,
        anomalies=lc.anomalies,
        ledger=d.ledger,
        lifecycle=lc,
        payload=d.last.payload if d.last is not None else None,
        messages=tuple(d.messages.values()),
        requests=d.requests,
        stream_fallbacks=d.stream_fallbacks,
        cancel_requested=d.cancel_requested,
        cancel_lost_race=lost_race,
        object_ids=tuple(d.object_ids),
    )


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
    # run may still deliver it: the output stays recorded). A call that never ran and has no
    # output (held for approval) stays intended while the run lives: a later drive runs it.
    open_ids = d.ledger.unsettled()
    if not ending.terminal:
        open_ids = [c for c in open_ids if d.ledger.state_of(c) is not CallState.INTENDED]
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
    return result(d, ending)
