"""What a drive reports: its events on the way, its tool-call records and its result.

Everything here is neutral data: payloads are the JSON objects the server sent (as dicts), never
SDK models. A driver turns them into its own public types (``adapters.openai`` builds SDK ``Run``
objects from ``payload`` only when a caller asks for them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lifecycle._ledger import ToolLedger
from lifecycle._machine import RunLifecycle
from lifecycle._records import Anomaly, JournalEntry, ToolCall
from lifecycle.kernel._ending import Ending

if TYPE_CHECKING:
    from lifecycle._snapshot import LifecycleSnapshot

__all__ = [
    "DriveResult",
    "MessageSeen",
    "Notice",
    "RoundFinished",
    "RoundStarted",
    "StatusSeen",
    "StepSeen",
    "ToolCallRecord",
    "records_from_ledger",
]


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of the run and what became of it.

    Attributes:
        id: the ``tool_call_id``.
        name: the function name the model asked for.
        arguments: the raw JSON argument string.
        output: the output submitted (capped), or ``None``.
        error: the error type of an error output, else ``None``.
        state: the ledger state (``delivered``, ``executed_undelivered``, ``unknown_effect``...).
        truncated: whether the submitted output was capped.
        full_output: the whole output before capping.
        round: the round (1-based) that asked for it.
        kind: ``function``, or ``mcp_approval`` (a Responses MCP approval request).
        approval: ``pending``, ``approved`` or ``rejected`` for a call that needed approval.
    """

    id: str
    name: str
    arguments: str
    output: str | None
    error: str | None
    state: str
    truncated: bool = False
    full_output: str | None = None
    round: int = 1
    kind: str = "function"
    approval: str | None = None

    @property
    def call_id(self) -> str:
        """The ``call_id`` a Responses ``function_call_output`` answers (the same as ``id``)."""
        return self.id

    def __repr__(self) -> str:
        return (
            f"ToolCallRecord(id={self.id!r}, name={self.name!r}, state={self.state!r}, "
            f"error={self.error!r})"
        )


def records_from_ledger(
    ledger: ToolLedger, ids: frozenset[str] | None = None
) -> tuple[ToolCallRecord, ...]:
    """The ledger's entries (those in ``ids``, if given) as records, in the order first seen."""
    return tuple(
        ToolCallRecord(
            id=e.tool_call_id,
            name=e.name,
            arguments=e.arguments,
            output=e.output,
            error=e.error,
            state=e.state.value,
            truncated=e.truncated,
            full_output=e.full_output,
            round=e.round,
            kind=e.kind,
            approval=e.approval,
        )
        for e in ledger.entries.values()
        if ids is None or e.tool_call_id in ids
    )


# -- events -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusSeen:
    """The run moved: ``entries`` are the applied transitions (inferred steps included)."""

    run_id: str
    entries: tuple[JournalEntry, ...]
    status: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StepSeen:
    """A run step completed (first time seen); ``payload`` is the step object."""

    run_id: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MessageSeen:
    """An assistant message of the run completed (first time seen)."""

    run_id: str
    payload: Mapping[str, Any]
    text: str


@dataclass(frozen=True, slots=True)
class RoundStarted:
    """A tool round starts: these calls are about to run (or be answered)."""

    run_id: str
    round: int
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class RoundFinished:
    """A tool round has one output per call, about to be submitted."""

    run_id: str
    round: int
    records: tuple[ToolCallRecord, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a log line. ``level`` uses the :mod:`logging` numbers.

    ``fields`` hold ids, statuses, counts and reasons only, never a payload or a secret.
    """

    level: int
    message: str
    fields: Mapping[str, Any] = field(default_factory=dict)


# -- the result ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DriveResult:
    """What one drive ended with.

    Attributes:
        ending: why it stopped (see :class:`~lifecycle.kernel.Ending`).
        run_id: the run (``""`` when none was created).
        scope: what the run belongs to (an Assistants thread id).
        lifecycle_name: the lifecycle table's name.
        history: the journal of applied transitions.
        anomalies: observations recorded but not applied (or applied with a flag).
        ledger: the tool ledger (every call's fate).
        lifecycle: the run's lifecycle as the drive left it.
        payload: the last run object the server sent (a dict), or ``None``.
        messages: the assistant's answer texts for this run, oldest first.
        requests: HTTP requests made (retries included).
        stream_fallbacks: times a stream failed and polling took over.
        cancel_requested: whether a cancel was sent (ours: a user's or a deadline's).
        cancel_lost_race: a cancel was sent but the run ended otherwise.
        object_ids: the objects the drive followed, oldest first (a Responses chain's response
            ids; the one run of an Assistants drive).
    """

    ending: Ending
    run_id: str
    scope: str
    lifecycle_name: str
    history: tuple[JournalEntry, ...]
    anomalies: tuple[Anomaly, ...]
    ledger: ToolLedger
    lifecycle: RunLifecycle
    payload: Mapping[str, Any] | None
    messages: tuple[str, ...] = ()
    requests: int = 0
    stream_fallbacks: int = 0
    cancel_requested: bool = False
    cancel_lost_race: bool = False
    object_ids: tuple[str, ...] = ()

    def snapshot(self) -> LifecycleSnapshot:
        """The lifecycle's snapshot (taken on demand)."""
        return self.lifecycle.snapshot()

    @property
    def tool_calls(self) -> tuple[ToolCallRecord, ...]:
        """Every tool call of the run and its fate."""
        return records_from_ledger(self.ledger)
