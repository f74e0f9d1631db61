"""Reading the run: one read that must succeed, and the poll whose failure is a lost observation.

A poll that fails for good (retries spent) or answers something that is not the run is a *lost
observation*: the caller polls again after the schedule's wait (a 429's ``retry-after`` first),
within the deadlines. A 404 ends the drive ``lost_handle``; any other error that is not
retryable ends it ``abandoned`` (both decided in ``_finish.py``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lifecycle._records import Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._errors import CallFailed
from lifecycle.kernel._messages import Failure, HttpResponse

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["first_read", "poll", "read"]


def read(d: Drive) -> Flow:
    """Read the run once; a failure ends the drive (see :meth:`Drive.guarded`)."""
    response = yield from d.call("retrieve", d.binding.retrieve(d.scope, d.run_id))
    yield from d.observe(d.parse(response), Via.POLL)
    d.schedule.after_poll(response.headers, d.now)


def first_read(d: Drive) -> Flow:
    """The first read of a drive that attaches to, resumes or cancels an existing run. A read
    that fails for good ends the drive (the server cannot be reached, or refuses); an answer
    that is not the object (garbage from a proxy) is a lost observation, as any poll's: the
    follow loop polls again."""
    response = yield from d.call("retrieve", d.binding.retrieve(d.scope, d.run_id))
    assert isinstance(response, HttpResponse)
    parsed = d.binding.parse(response.body)
    if isinstance(parsed, Failure):
        yield from d.note(
            logging.WARNING, "read answered garbage; polling on", error=parsed.message
        )
        d.schedule.after_failure(parsed, d.now)
        return
    yield from d.observe(parsed, Via.POLL)
    d.schedule.after_poll(response.headers, d.now)


def poll(d: Drive, via: Via = Via.POLL) -> Flow:
    """Poll the run. A failed or garbled poll is a lost observation: the loop polls again.
    ``via``: ``webhook`` when a verified webhook about the run made the drive look now."""
    try:
        response = yield from d.call("retrieve", d.binding.retrieve(d.scope, d.run_id))
    except CallFailed as failed:
        failure = failed.failure
        if not d.retryable(failure):
            raise
        yield from d.note(
            logging.WARNING, "poll failed after its retries; polling on", error=failure.reason
        )
        d.schedule.after_failure(failure, d.now)
        return
    assert isinstance(response, HttpResponse)
    parsed = d.binding.parse(response.body)
    if isinstance(parsed, Failure):
        yield from d.note(
            logging.WARNING, "poll answered garbage; polling on", error=parsed.message
        )
        d.schedule.after_failure(parsed, d.now)
        return
    yield from d.observe(parsed, via)
    d.schedule.after_poll(response.headers, d.now)
