"""What the run store hands back: stored runs, create intents, effect records, and its error.

Theory of operation
-------------------
The store's rows come back as frozen values, never as live SQLite rows: a :class:`StoredRun`
(the lifecycle snapshot and a fresh tool ledger, validated from their JSON, with the row's
bookkeeping), a :class:`CreateIntent` (a create about to be sent, or sent, and the run id once
known) and an :class:`EffectRecord` (one ``started`` or ``finished`` line of the effect log, see
:class:`EffectPhase`). Whether a saved state is terminal is read from the lifecycle's own table
(:func:`is_terminal`), never typed out here. :class:`StoreError` is the one error the store
raises for its own rules (a schema from another version, a broken at-most-once gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from lifecycle import LIFECYCLES, LifecycleError, LifecycleSnapshot, RunLifecycle, ToolLedger

__all__ = [
    "CreateIntent",
    "EffectPhase",
    "EffectRecord",
    "StoreError",
    "StoredRun",
    "is_terminal",
    "stored_run",
]


class StoreError(LifecycleError):
    """The store file is unusable (another schema version) or a write broke a store rule."""


class EffectPhase(StrEnum):
    """The records around a tool's side effect, and around the delivery of its output."""

    STARTED = "started"  #: written (and committed) before the side effect
    FINISHED = "finished"  #: written after it
    #: written (and committed) before a submit carrying the call's output is sent, by APIs that
    #: cannot check a submit whose answer was lost (a Responses chain's next response): after a
    #: crash, ``submitted`` on an output the ledger has not seen delivered means the outcome is
    #: unknown, and the output is never sent again
    SUBMITTED = "submitted"


@dataclass(frozen=True, slots=True)
class EffectRecord:
    """One row of the append-only effect log.

    Attributes:
        seq: the global sequence number (increasing in commit order).
        run_id: the run.
        tool_call_id: the call.
        phase: ``started``, ``finished`` or ``submitted``.
        at: the store clock's time of the record.
        detail: a short note (e.g. ``ok``, ``error:ValueError``), never an output or a secret.
    """

    seq: int
    run_id: str
    tool_call_id: str
    phase: EffectPhase
    at: float
    detail: str = ""


@dataclass(frozen=True, slots=True)
class CreateIntent:
    """A run create the controller was about to send (or sent).

    Attributes:
        op_id: the idempotency tag sent as ``metadata.op_id``.
        thread_id: the thread the run is created on.
        run_id: the run id, once known; ``None`` means the create's outcome is unknown.
        created_at: when the intent was recorded.
    """

    op_id: str
    thread_id: str
    run_id: str | None
    created_at: float


@dataclass(frozen=True)
class StoredRun:
    """A run as last saved.

    Attributes:
        run_id: the run.
        thread_id: its thread.
        op_id: the ``metadata.op_id`` it was created with, if any.
        snapshot: the lifecycle snapshot.
        ledger: the tool ledger (a fresh object: mutate it freely).
        terminal: whether the snapshot's state is terminal in its table.
        closed: why the controller stopped following it without a terminal status, or ``None``.
        revision: how many times it was saved (1 on the first save).
        updated_at: the store clock's time of the last save.
    """

    run_id: str
    thread_id: str
    op_id: str | None
    snapshot: LifecycleSnapshot
    ledger: ToolLedger
    terminal: bool
    closed: str | None
    revision: int
    updated_at: float

    @property
    def state(self) -> str:
        """The lifecycle state saved."""
        return self.snapshot.state

    def restore(self, **kwargs: Any) -> RunLifecycle:
        """Rebuild the lifecycle (``kwargs`` go to ``RunLifecycle.restore``)."""
        return RunLifecycle.restore(self.snapshot, **kwargs)


def is_terminal(snapshot: LifecycleSnapshot) -> bool:
    spec = LIFECYCLES.get(snapshot.lifecycle)
    if spec is None:
        raise StoreError(f"unknown lifecycle {snapshot.lifecycle!r} in snapshot")
    return snapshot.state in spec.terminal_values


def stored_run(row: tuple[Any, ...]) -> StoredRun:
    run_id, thread_id, op_id, snapshot, ledger, terminal, closed, revision, updated_at = row
    return StoredRun(
        run_id=run_id,
        thread_id=thread_id,
        op_id=op_id,
        snapshot=LifecycleSnapshot.model_validate_json(snapshot),
        ledger=ToolLedger.model_validate_json(ledger),
        terminal=bool(terminal),
        closed=closed,
        revision=revision,
        updated_at=updated_at,
    )
