"""Cancel: how a cancel is sent, and what an interrupted drive does.

(When a deadline makes the drive cancel is decided in ``_deadlines.py``.)

* A cancel whose answer is lost is never simply resent: the run is read first; it is sent again
  only while the run still shows no sign of it (bounded by the retry policy and the deadline).
* After a local interruption (a cancelled task, Ctrl-C) the driver pumps :func:`interrupted`: one
  cancel, no retry, then the drive finishes ``interrupted``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING

from lifecycle._records import Via
from lifecycle.kernel._binding import Flow
from lifecycle.kernel._durable import save
from lifecycle.kernel._ending import EndingKind
from lifecycle.kernel._errors import CallFailed, DeadlineReached, OutcomeUnknown, Stop
from lifecycle.kernel._finish import finish
from lifecycle.kernel._messages import FailureKind
from lifecycle.kernel._poll import read
from lifecycle.kernel._schedule import retry_delay

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["interrupted", "send_cancel"]


def send_cancel(d: Drive) -> Flow:
    """Send one cancel (resent only when it surely did not get in) and observe the answer.

    A chain that waits for its client, before the cancel or in the cancel's answer (it lost
    the race to a response that completed asking for tools), is ended here: nothing runs on
    the server, so ending it is the controller's alone (no read could ever confirm a cancel).
    """
    d.lc.request_cancel()
    d.cancel_requested = True
    if d.cancel_started is None:
        d.cancel_started = d.now
    if not _idle(d):
        yield from _cancel_on_server(d)
    if _idle(d):
        d.lc.trigger(d.facts.cancel_trigger[d.lc._status], at=d.wall)
        yield from save(d)


def _idle(d: Drive) -> bool:
    """Whether nothing runs on the server: the object waits for its client's new object."""
    return d.binding.capabilities.idle_while_awaiting and d.lc.awaiting_client


def _cancel_on_server(d: Drive) -> Flow:
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


def interrupted(d: Drive) -> Flow:
    """The task or thread driving the run was interrupted: send one cancel for a live run
    (one attempt, no retry), then finish ``interrupted``. The driver bounds and shields it."""
    if d.run_id and not d.lc.is_terminal and not d.cancel_requested:
        d.lc.request_cancel()
        d.cancel_requested = True
        http = dataclasses.replace(
            d.binding.cancel(d.scope, d.run_id), timeout=d.config.interrupt_cancel_s
        )
        try:
            response = yield from d.call("cancel", http, mutating=True, attempts=1)
            yield from d.observe(d.parse(response), Via.CLIENT)
        except (CallFailed, Stop, DeadlineReached) as exc:
            yield from d.note(logging.WARNING, "cancel after interruption failed", error=str(exc))
    return (yield from finish(d, d.ending(EndingKind.INTERRUPTED)))
