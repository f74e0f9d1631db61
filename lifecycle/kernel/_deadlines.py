"""Deadlines: which one bounds the drive now, waits cut short at it, and what passing one does.

* Before the run exists (a create), only the overall deadline counts. Once it exists, the nearer
  of the overall deadline and its current status's own (``ControllerConfig.deadlines``). Once a
  cancel is out, only the cancelling deadline (that of the status a cancel enters).
* Every wait the drive asks for (a poll interval, a retry backoff, a server's ``retry-after``) is
  cut at that deadline, which then raises :class:`DeadlineReached` to the loop: no wait outlasts a
  deadline, whatever the server asks.
* A deadline that passes sends one cancel when ``cancel_on_timeout`` and the table lets the run be
  cancelled from where it stands, else the drive ends ``deadline``; past the cancelling deadline it
  ends ``cancel_unconfirmed``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lifecycle.kernel._binding import Flow
from lifecycle.kernel._cancel import send_cancel
from lifecycle.kernel._ending import EndingKind
from lifecycle.kernel._errors import DeadlineReached, Stop
from lifecycle.kernel._messages import Sleep

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["next_deadline", "on_deadline", "overrun", "sleep"]


def next_deadline(d: Drive) -> tuple[str, float]:
    """The nearest deadline that bounds the drive now: ``(name, monotonic time)``."""
    cfg = d.config
    if d.cancel_started is not None:
        return "cancelling", d.cancel_started + d.facts.cancel_limit(cfg)
    name, at = "overall", d.started + cfg.overall_timeout_s
    if not d.run_id:  # no run yet (a create): only the overall deadline bounds it
        return name, at
    state = d.lc._status
    limit = cfg.deadlines.get(state)
    if limit is not None and d.state_since + limit <= at:
        name, at = state, d.state_since + limit
    return name, at


def sleep(d: Drive, seconds: float, *, wake: bool) -> Flow:
    """Wait ``seconds``, or until the next deadline if that comes first. ``wake``: a pushed
    event about the run (a webhook) may end the wait early. Returns whether one did.

    A deadline already passed (or reached) raises at once, with no request: this is the one
    deadline check of the follow loop. A wait cut at the deadline raises once it is over, even
    when the driver's clock reads a little short of the deadline (a sleep that rounds down):
    the drive's clock is always the driver's, set by each reply, never moved here.

    Raises:
        DeadlineReached: the deadline came first (the wait was cut to it).
    """
    name, at = next_deadline(d)
    left = at - d.now
    wake_on = d.run_id if wake else ""
    if seconds >= left:
        if left > 0:
            reply = yield from d.ask(Sleep(left, wake_on))
            if reply.value is True and d.now < at:
                return True
        raise DeadlineReached(name)
    if seconds > 0:
        reply = yield from d.ask(Sleep(seconds, wake_on))
        return reply.value is True
    return False


def overrun(d: Drive) -> None:
    """Raise when a deadline passed during the last wait and read (the process slept longer
    than it asked, or the read was slow): its action comes before anything the read asks for,
    such as a new tool round.

    Raises:
        DeadlineReached: the nearest deadline has passed.
    """
    name, at = next_deadline(d)
    if d.now >= at:
        raise DeadlineReached(name)


def on_deadline(d: Drive, name: str) -> Flow:
    """A deadline passed: send a cancel (once), or stop."""
    d.deadline = d.deadline or name
    if d.cancel_started is not None:
        raise Stop(d.ending(EndingKind.CANCEL_UNCONFIRMED))
    yield from d.note(logging.WARNING, "deadline passed", deadline=name, state=d.lc._status)
    if d.config.cancel_on_timeout and not d.observe_only and d.lc._status in d.facts.cancellable:
        yield from send_cancel(d)
        return
    raise Stop(d.ending(EndingKind.DEADLINE))
