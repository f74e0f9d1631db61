"""Following a run through an event stream, resuming it, and falling back to polling.

A stream is read one event at a time (:class:`~lifecycle.kernel.NextEvent`); each event is parsed
by the binding and observed with ``via="stream"``. The stream is closed when it ends.

A stream that drops or goes silent for ``stream_idle_timeout_s`` is reopened after its last event
when the API numbers them and can resume (Responses: ``sequence_number``, ``starting_after``), at
most :data:`MAX_RESUMES` times. Otherwise, and after an error event, garbage, or a stream that
ended before the run is terminal or waits for the client, polling takes over for the rest of the
drive (``stream_fallbacks`` counts it) and the next poll happens at once.

No read outlasts a deadline: each read's idle timeout is cut at the next deadline, and a
deadline that passes while the stream is read (or reopened) closes it and hands the drive back
to the follow loop, which acts on the deadline (a cancel with ``cancel_on_timeout``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lifecycle._records import Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._deadlines import next_deadline
from lifecycle.kernel._ending import EndingKind
from lifecycle.kernel._errors import CallFailed, DeadlineReached, Stop
from lifecycle.kernel._messages import END_OF_STREAM, CloseStream, NextEvent, StreamOpened

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["MAX_RESUMES", "consume"]

#: how many times one stream is reopened after a drop before polling takes over
MAX_RESUMES = 3


#: the reason a stream is left to the follow loop, which acts on the deadline that passed
AT_DEADLINE = "at a deadline"


@dataclass(slots=True)
class _Reading:
    """One stream being read: its handle (a new one after a resume), the last sequence number,
    how often it was resumed, and whether its first observation is a new object."""

    handle: Any
    new_object: bool
    last: int | None = None
    resumes: int = 0


def consume(d: Drive, handle: Any, *, new_object: bool = False) -> Flow:
    """Read the stream ``handle`` to its end (resuming it after a drop when the API can), then
    close it; fall back to polling when it cannot be followed. ``new_object``: the stream is
    the answer to a submit that starts a new object (its first observation is that object)."""
    reading = _Reading(handle, new_object)
    why = yield from _read(d, reading)
    yield from d.ask(CloseStream(reading.handle))
    if why == AT_DEADLINE and not reading.new_object:
        yield from d.note(logging.INFO, "stream closed at a deadline")
        return
    if reading.new_object:  # the stream never named the object our submit started
        yield from d.note(logging.ERROR, "the next object's id never arrived", reason=why)
        raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, detail="next_response"))
    if not why and not (d.lc.is_terminal or d.lc.awaiting_client):
        why = "the stream ended before the run settled"
    if why:
        yield from d.note(logging.WARNING, why)
        yield from d.stream_failed(why)
        d.schedule.after_action({}, d.now)


def _read(d: Drive, r: _Reading) -> Flow:
    """Read events until the stream ends; why it ended (``""``: cleanly, or
    :data:`AT_DEADLINE`). No read outlasts the next deadline."""
    while True:
        _, at = next_deadline(d)
        left = at - d.now
        if left <= 0:
            return AT_DEADLINE
        idle = d.config.stream_idle_timeout_s
        reply = yield from d.ask(NextEvent(r.handle, min(idle, left)))
        if reply.failure is not None:
            if left < idle and d.now >= at - 1e-6:  # the read was cut at the deadline
                return AT_DEADLINE
            try:
                reopened = yield from _reopen(d, r)
            except DeadlineReached:  # while retrying the resume: the loop acts on it
                return AT_DEADLINE
            if reopened:
                continue
            return f"stream dropped ({reply.failure.reason})"
        if reply.value is END_OF_STREAM:
            return ""
        item = d.binding.parse_event(reply.value)
        if item.failure is not None:
            return f"stream sent an error or garbage ({item.failure.message})"
        if item.sequence is not None:
            r.last = item.sequence
        if item.observation is not None:
            yield from d.observe(item.observation, Via.STREAM, new_run=r.new_object)
            r.new_object = False
        else:
            yield from d.report(item)


def _reopen(d: Drive, r: _Reading) -> Flow:
    """After a drop: resume the stream after its last event when the API can (at most
    :data:`MAX_RESUMES` times); whether it was reopened."""
    if r.last is None or r.resumes >= MAX_RESUMES or d.lc.is_terminal:
        return False
    r.resumes += 1
    yield from d.ask(CloseStream(r.handle))
    reopened = yield from _resume(d, r.last)
    if reopened is None:
        return False
    r.handle = reopened
    return True


def _resume(d: Drive, after: int) -> Flow:
    """Reopen the stream after event ``after``; the new handle, or ``None`` (poll instead)."""
    http = d.binding.resume_stream(d.scope, d.run_id, after)
    if http is None:
        return None
    try:
        value = yield from d.call("resume_stream", http)
    except CallFailed as failed:
        yield from d.note(logging.WARNING, "stream resume failed", error=failed.failure.reason)
        return None
    if not isinstance(value, StreamOpened):
        return None  # answered with the object: the caller falls back to polling
    yield from d.note(logging.INFO, "stream resumed", after=after)
    return value.handle
