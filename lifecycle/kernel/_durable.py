"""Durability: what a drive saves and when, the effect log, and resuming after a crash.

Theory of operation
-------------------
With a store attached (``durable=True``) a drive yields store requests at the points where a
crash would otherwise lose something (the driver performs each write, committed, before it
replies):

* :class:`~lifecycle.kernel.BeginCreate` before a create is sent, so a create whose answer is
  lost can be found again by its ``op_id``; :class:`~lifecycle.kernel.BindCreate` with ``""`` when
  no run exists for it;
* :class:`~lifecycle.kernel.SaveRun` after every transition and every ledger change;
* :class:`~lifecycle.kernel.RecordEffect` ``started`` right before a tool's side effect and
  ``finished`` after it: after a crash, ``started`` without ``finished`` is an unknown effect,
  never run again;
* ``submitted`` right before a submit carrying a call's output, where the API cannot check a
  submit whose answer was lost (a Responses chain's next response): after a crash, an output
  ``submitted`` but not seen delivered is never sent again (the drive ends ``outcome_unknown``).

A chain's next response is saved with ``supersedes`` naming the previous one, which the store
closes in the same write: one row of a chain is pending at a time.

Without a store none of these are yielded (no snapshot is taken).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from lifecycle.kernel._binding import Flow
from lifecycle.kernel._messages import BeginCreate, BindCreate, CloseRun, RecordEffect, SaveRun

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = [
    "NO_RUN",
    "abandon_create",
    "begin_create",
    "close_run",
    "effect",
    "restore_effects",
    "save",
]

#: What an abandoned create intent (the server refused it: no run exists) is bound to.
NO_RUN = ""


def save(d: Drive) -> Flow:
    """Persist the lifecycle and the ledger (after every transition and ledger change)."""
    if not d.durable or not d.run_id:
        return
    d.late_unsaved = False
    superseded, d.superseded = d.superseded, None
    yield from d.ask(SaveRun(d.run_id, d.scope, d.lc.snapshot(), d.ledger, d.op_id, superseded))


def effect(d: Drive, call_id: str, phase: str, detail: str = "") -> Flow:
    """Append to the effect log (``started`` before a side effect, ``finished`` after)."""
    if d.durable:
        yield from d.ask(RecordEffect(d.run_id, call_id, phase, detail))


def begin_create(d: Drive, op_id: str) -> Flow:
    """Record the create intent before the create is sent."""
    d.op_id = op_id
    if d.durable:
        yield from d.ask(BeginCreate(op_id, d.scope))


def abandon_create(d: Drive) -> Flow:
    """No run exists for this drive's create intent: close the intent."""
    if d.durable and d.op_id is not None and not d.run_id:
        yield from d.ask(BindCreate(d.op_id, NO_RUN))


def close_run(d: Drive, reason: str) -> Flow:
    """Record why the drive stopped following a run that is not terminal."""
    if d.durable and d.run_id:
        yield from d.ask(CloseRun(d.run_id, reason))


def restore_effects(
    d: Drive, started: Collection[str], unfinished: Collection[str], submitted: Collection[str]
) -> Flow:
    """Reconcile a restored ledger with the effect log after a restart.

    A call with a recorded output keeps it (its lost ``finished`` record is written now). A call
    the log says ``started`` without an output has an unknown effect: never run again. A call
    claimed but never started may run. Outputs ``submitted`` are remembered (never resent where
    a lost submit cannot be checked).
    """
    d.submitted.update(submitted)
    for call_id, entry in list(d.ledger.entries.items()):
        if entry.output is not None:
            if call_id in unfinished:
                yield from effect(d, call_id, "finished", "recovered")
            continue
        if call_id in started:
            d.ledger.mark_unknown(call_id)
        else:
            d.ledger.reopen(call_id)
