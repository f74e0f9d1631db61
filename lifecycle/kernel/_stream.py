"""Following a run through an event stream, resuming it, and falling back to polling.

A stream is read one event at a time (:class:`~lifecycle.kernel.NextEvent`); each event is parsed
by the binding and observed with ``via="stream"``. The stream is closed when it ends.

A stream that drops or goes silent for ``stream_idle_timeout_s`` is reopened after its last event
when the API numbers them and can resume (Responses: ``sequence_number``, ``starting_after``), at
most :data:`MAX_RESUMES` times. Otherwise, and after an error event, garbage, or a stream that
ended before the run is terminal or waits for the client, polling takes over for the rest of the
drive (``stream_fallbacks`` counts it) and the next poll happens at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lifecycle._records import Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._ending import EndingKind
from lifecycle.kernel._errors import CallFailed, Stop
from lifecycle.kernel._messages import END_OF_STREAM, CloseStream, NextEvent, StreamOpened

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["MAX_RESUMES", "consume"]

#: how many times one stream is reopened after a drop before polling takes over
MAX_RESUMES = 3


def consume(d: Drive, handle: Any, *, new_object: bool = False) -> Flow:
    """Read the stream ``handle`` to its end (resuming it after a drop when the API can), then
    close it; fall back to polling when it cannot be followed. ``new_object``: the stream is
    the answer to a submit that starts a new object (its first observation is that object)."""
    why = ""
    last: int | None = None
    resumes = 0
    while True:
        reply = yield from d.ask(NextEvent(handle, d.config.stream_idle_timeout_s))
        if reply.failure is not None:
            reopened = None
            if last is not None and resumes < MAX_RESUMES and not d.lc.is_terminal:
                resumes += 1
                yield from d.ask(CloseStream(handle))
                reopened = yield from _resume(d, last)
            if reopened is not None:
                handle = reopened
                continue
            why = f"stream dropped ({reply.failure.reason})"
            break
        if reply.value is END_OF_STREAM:
            break
        item = d.binding.parse_event(reply.value)
        if item.failure is not None:
            why = f"stream sent an error or garbage ({item.failure.message})"
            break
        if item.sequence is not None:
            last = item.sequence
        if item.observation is not None:
            yield from d.observe(item.observation, Via.STREAM, new_run=new_object)
            new_object = False
        else:
            yield from d.report(item)
    yield from d.ask(CloseStream(handle))
    if new_object:  # the stream never named the object our submit started: it cannot be read
        yield from d.note(logging.ERROR, "the next object's id never arrived", reason=why)
        raise Stop(d.ending(EndingKind.OUTCOME_UNKNOWN, detail="next_response"))
    if not why and not (d.lc.is_terminal or d.lc.awaiting_client):
        why = "the stream ended before the run settled"
    if why:
        yield from d.note(logging.WARNING, why)
        yield from d.stream_failed(why)
        d.schedule.after_action({}, d.now)


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
