"""What a drive produces: the :class:`RunOutcome`, and the events ``events()`` yields on the way.

A failed, expired, cancelled or incomplete run is a *result*; raising is opt-in through
:meth:`RunOutcome.raise_for_status` (like httpx's ``raise_for_status()``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from lifecycle import (
    Anomaly,
    JournalEntry,
    LifecycleSnapshot,
    PollTimeout,
    RunCancelled,
    RunEndedUnsuccessfully,
    RunExpired,
    RunFailed,
    RunIncomplete,
    RunStatus,
    ToolCall,
    ToolLedger,
)

__all__ = [
    "UNKNOWN_EFFECT",
    "MessageCompleted",
    "RunEvent",
    "RunFinished",
    "RunOutcome",
    "StatusChanged",
    "StepCompleted",
    "ToolCallRecord",
    "ToolsFinished",
    "ToolsStarted",
]

#: The exception ``raise_for_status`` raises for each unsuccessful terminal status.
_RAISES: Mapping[str, type[RunEndedUnsuccessfully]] = {
    RunStatus.FAILED: RunFailed,
    RunStatus.EXPIRED: RunExpired,
    RunStatus.CANCELLED: RunCancelled,
    RunStatus.INCOMPLETE: RunIncomplete,
}


#: The record state (and ledger ``reason``) of a call whose effect is unknown after a restart.
UNKNOWN_EFFECT = "unknown_effect"


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of the run and what became of it.

    Attributes:
        id: the ``tool_call_id``.
        name: the function name the model asked for.
        arguments: the raw JSON argument string.
        output: the output submitted (capped), or ``None``.
        error: the error type of an error output, else ``None``.
        state: the ledger state (``delivered``, ``executed_undelivered``, ...), or
            ``unknown_effect`` for a call whose side effect may have happened before a crash
            and whose output was lost (it is never run again).
        truncated: whether the submitted output was capped.
        full_output: the whole output before capping.
        round: the requires_action round (1-based).
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

    def __repr__(self) -> str:
        return (
            f"ToolCallRecord(id={self.id!r}, name={self.name!r}, state={self.state!r}, "
            f"error={self.error!r})"
        )


def records_from_ledger(ledger: ToolLedger) -> tuple[ToolCallRecord, ...]:
    """The ledger's entries as :class:`ToolCallRecord` values, in the order first seen."""
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
        )
        for e in ledger.entries.values()
    )


@dataclass(frozen=True)
class RunOutcome:
    """The result of driving one run.

    Attributes:
        status: the final status (terminal unless ``deadline`` is set).
        run_id: the run.
        thread_id: its thread.
        history: the journal of applied transitions.
        anomalies: observations recorded but not applied.
        tool_calls: every tool call of the run and its fate.
        run: the last SDK ``Run`` object read.
        messages: the assistant's answer texts for this run, oldest first.
        requests: HTTP requests made (retries included).
        deadline: which deadline passed (``"queued"``, ``"overall"``...), or ``None``.
        abandoned: why the drive gave up on a run that still exists, or ``None``: an API error
            that outlasted its retries (``"http_503"``, ``"connection"``, ``"timeout"``...).
            The run is left as it was (saved as pending in the store): ``recover()`` or
            ``drive()`` continue it.
        cancel_requested: whether a cancel was sent.
        cancel_lost_race: a cancel was requested but the run ended otherwise.
        cancel_unconfirmed: the cancel was not confirmed within the cancelling deadline.
        stream_fallbacks: times a stream dropped or went silent and polling took over.
        unknown_effects: tool call ids whose side effect may have happened before a crash and
            whose output was lost: never re-run, never submitted; a person decides.
        snapshot: the lifecycle snapshot (state, journal, anomalies).
        ledger: the tool ledger.
    """

    status: str
    run_id: str
    thread_id: str
    history: tuple[JournalEntry, ...]
    anomalies: tuple[Anomaly, ...]
    tool_calls: tuple[ToolCallRecord, ...]
    run: Run | None
    messages: tuple[str, ...] = ()
    requests: int = 0
    deadline: str | None = None
    abandoned: str | None = None
    cancel_requested: bool = False
    cancel_lost_race: bool = False
    cancel_unconfirmed: bool = False
    stream_fallbacks: int = 0
    unknown_effects: tuple[str, ...] = ()
    snapshot: LifecycleSnapshot | None = field(default=None, repr=False)
    ledger: ToolLedger = field(default_factory=ToolLedger, repr=False)

    def __repr__(self) -> str:
        # ids, status and counts only: message texts, outputs and the Run object may carry
        # anything a tool or the model produced (I8)
        return (
            f"RunOutcome(status={self.status!r}, run_id={self.run_id!r}, "
            f"thread_id={self.thread_id!r}, transitions={len(self.history)}, "
            f"anomalies={len(self.anomalies)}, tool_calls={len(self.tool_calls)}, "
            f"messages=<{len(self.messages)}>, requests={self.requests}, "
            f"deadline={self.deadline!r}, abandoned={self.abandoned!r}, "
            f"cancel_requested={self.cancel_requested}, "
            f"cancel_lost_race={self.cancel_lost_race}, "
            f"cancel_unconfirmed={self.cancel_unconfirmed}, "
            f"stream_fallbacks={self.stream_fallbacks}, "
            f"unknown_effects={len(self.unknown_effects)})"
        )

    @property
    def ok(self) -> bool:
        """Whether the run completed within its deadlines."""
        return self.status == RunStatus.COMPLETED and self.deadline is None and not self.abandoned

    @property
    def text(self) -> str:
        """The assistant's answer: every message text of the run, joined by blank lines."""
        return "\n\n".join(self.messages)

    def raise_for_status(self) -> RunOutcome:
        """Raise unless the run completed; return ``self`` when it did.

        Raises:
            PollTimeout: a client-side deadline passed, or the drive was abandoned (its
                ``deadline`` then ends with ``"abandoned:<reason>"``).
            RunFailed: the run failed (``detail`` carries ``last_error``).
            RunExpired: the run expired.
            RunCancelled: the run was cancelled.
            RunIncomplete: the run ended incomplete (``detail`` carries the reason).
        """
        if self.deadline is not None or self.abandoned is not None:
            waited = 0.0
            if self.history and self.history[0].at is not None and self.history[-1].at is not None:
                waited = self.history[-1].at - self.history[0].at
            reasons = [self.deadline] if self.deadline is not None else []
            if self.abandoned is not None:
                reasons.append(f"abandoned:{self.abandoned}")
            deadline = ", ".join(reasons)
            raise PollTimeout(self.run_id, waited, self.status, deadline)
        exc = _RAISES.get(self.status)
        if exc is not None:
            raise exc(self.run_id, self.status, self._detail())
        return self

    def _detail(self) -> str:
        run = self.run
        if run is None:
            return ""
        if run.last_error is not None:
            return f"{run.last_error.code}: {run.last_error.message}"
        if run.incomplete_details is not None and run.incomplete_details.reason:
            return run.incomplete_details.reason
        return ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready export; the diagram overlay reads ``lifecycle``, ``state``, ``journal``."""
        snap = self.snapshot.model_dump(mode="json") if self.snapshot is not None else {}
        return {
            "lifecycle": snap.get("lifecycle", "assistants-run"),
            "state": self.status,
            "journal": snap.get("journal", []),
            "anomalies": snap.get("anomalies", []),
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "deadline": self.deadline,
            "abandoned": self.abandoned,
            "cancel_requested": self.cancel_requested,
            "cancel_lost_race": self.cancel_lost_race,
            "cancel_unconfirmed": self.cancel_unconfirmed,
            "stream_fallbacks": self.stream_fallbacks,
            "unknown_effects": list(self.unknown_effects),
            "requests": self.requests,
            "messages": list(self.messages),
            "tool_calls": [
                {
                    "id": t.id,
                    "name": t.name,
                    "state": t.state,
                    "error": t.error,
                    "round": t.round,
                    "truncated": t.truncated,
                }
                for t in self.tool_calls
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatusChanged:
    """The run moved: ``entries`` are the applied transitions (inferred steps included)."""

    run_id: str
    entries: tuple[JournalEntry, ...]
    status: str
    run: Run | None


@dataclass(frozen=True, slots=True)
class StepCompleted:
    """A run step reached ``completed`` (first time seen)."""

    run_id: str
    step: RunStep


@dataclass(frozen=True, slots=True)
class MessageCompleted:
    """An assistant message of the run was completed (first time seen)."""

    run_id: str
    message: Message
    text: str


@dataclass(frozen=True, slots=True)
class ToolsStarted:
    """A requires_action round starts: these calls are about to run (or be answered)."""

    run_id: str
    round: int
    calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class ToolsFinished:
    """A requires_action round has one output per call, about to be submitted."""

    run_id: str
    round: int
    records: tuple[ToolCallRecord, ...]


@dataclass(frozen=True, slots=True)
class RunFinished:
    """The last event: the drive ended with this outcome."""

    outcome: RunOutcome


RunEvent = (
    StatusChanged | StepCompleted | MessageCompleted | ToolsStarted | ToolsFinished | RunFinished
)
