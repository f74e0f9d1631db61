"""Following a run through an event stream, and falling back to polling.

A stream is read one event at a time (:class:`~lifecycle.kernel.NextEvent`); each event is parsed
by the binding and observed with ``via="stream"``. The stream is closed when it ends. A stream
that drops, goes silent for ``stream_idle_timeout_s``, sends an error event or garbage, or ends
before the run is terminal or waits for the client, hands over to polling for the rest of the
drive (``stream_fallbacks`` counts it), and the next poll happens at once.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lifecycle._records import Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._messages import END_OF_STREAM, CloseStream, NextEvent

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["consume"]


def consume(d: Drive, handle: Any) -> Flow:
    """Read the stream ``handle`` to its end (or its failure), then close it."""
    why = ""
    while True:
        reply = yield from d.ask(NextEvent(handle, d.config.stream_idle_timeout_s))
        if reply.failure is not None:
            why = f"stream dropped ({reply.failure.reason})"
            break
        if reply.value is END_OF_STREAM:
            break
        item = d.binding.parse_event(reply.value)
        if item.failure is not None:
            why = f"stream sent an error or garbage ({item.failure.message})"
            break
        if item.observation is not None:
            yield from d.observe(item.observation, Via.STREAM)
        else:
            yield from d.report(item)
    yield from d.ask(CloseStream(handle))
    if not why and not (d.lc.is_terminal or d.lc.awaiting_client):
        why = "the stream ended before the run settled"
    if why:
        yield from d.note(logging.WARNING, why)
        yield from d.stream_failed(why)
        d.schedule.after_action({})
