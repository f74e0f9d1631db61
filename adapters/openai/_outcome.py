"""What a drive produces: the :class:`RunOutcome`, and the events ``events()`` yields on the way.

A failed, expired, cancelled or incomplete run is a *result*; raising is opt-in through
:meth:`RunOutcome.raise_for_status` (like httpx's ``raise_for_status()``). Everything the outcome
says about how the drive ended derives from one value, :attr:`RunOutcome.ending`.

The SDK objects (``outcome.run``, ``StatusChanged.run``, ``StepCompleted.step``...) are built from
the JSON the server sent only when they are read, so a caller who does not look at them does not
pay for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep
from pydantic import BaseModel, ValidationError

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
    RunLifecycle,
    RunStatus,
    ToolCall,
    ToolLedger,
)
from lifecycle.kernel import (
    DriveResult,
    Ending,
    EndingKind,
    MessageSeen,
    RoundFinished,
    RoundStarted,
    StatusSeen,
    StepSeen,
    ToolCallRecord,
    records_from_ledger,
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
    "public_event",
]

#: The exception ``raise_for_status`` raises for each unsuccessful terminal status.
_RAISES: Mapping[str, type[RunEndedUnsuccessfully]] = {
    RunStatus.FAILED: RunFailed,
    RunStatus.EXPIRED: RunExpired,
    RunStatus.CANCELLED: RunCancelled,
    RunStatus.INCOMPLETE: RunIncomplete,
}

#: The record state of a call whose effect is unknown after a restart (never run again).
UNKNOWN_EFFECT = "unknown_effect"

M = TypeVar("M", bound=BaseModel)


def sdk_model(cls: type[M], payload: Mapping[str, Any] | None) -> M | None:
    """Build an SDK model from a payload the server sent (validated; constructed as is when
    the server's JSON does not validate)."""
    if payload is None:
        return None
    try:
        return cls.model_validate(payload)
    except ValidationError:
        return cls.model_construct(**payload)


@dataclass(frozen=True)
class RunOutcome:
    """The result of driving one run.

    Attributes:
        status: the run's final status (terminal unless the ending says otherwise), or
            ``lost_handle`` / ``not_created`` for a run the server does not have.
        run_id: the run.
        thread_id: its thread.
        history: the journal of applied transitions.
        anomalies: observations recorded but not applied.
        tool_calls: every tool call of the run and its fate.
        ending: why the drive stopped (``terminal``, ``deadline``, ``cancel_unconfirmed``,
            ``lost_handle``, ``abandoned``, ``held``, ``not_created``, ``interrupted``).
        messages: the assistant's answer texts for this run, oldest first.
        requests: HTTP requests made (retries included).
        cancel_requested: whether a cancel was sent.
        cancel_lost_race: a cancel was sent but the run ended otherwise.
        stream_fallbacks: times a stream failed and polling took over.
        unknown_effects: tool call ids whose side effect may have happened before a crash and
            whose output was lost: never re-run, never submitted; a person decides.
        awaiting_approval: tool call ids the approval hook has not decided yet (the drive
            ended ``held``; nothing of their round ran): drive the run again to ask again.
        ledger: the tool ledger.
    """

    status: str
    run_id: str
    thread_id: str
    history: tuple[JournalEntry, ...]
    anomalies: tuple[Anomaly, ...]
    tool_calls: tuple[ToolCallRecord, ...]
    ending: Ending
    messages: tuple[str, ...] = ()
    requests: int = 0
    cancel_requested: bool = False
    cancel_lost_race: bool = False
    stream_fallbacks: int = 0
    unknown_effects: tuple[str, ...] = ()
    awaiting_approval: tuple[str, ...] = ()
    ledger: ToolLedger = field(default_factory=ToolLedger, repr=False)
    payload: Mapping[str, Any] | None = field(default=None, repr=False)
    lifecycle: RunLifecycle | None = field(default=None, repr=False)

    @classmethod
    def from_result(cls, result: DriveResult) -> RunOutcome:
        """The outcome of a kernel drive."""
        ending = result.ending
        return cls(
            status=ending.outcome_status,
            run_id=result.run_id,
            thread_id=result.scope,
            history=result.history,
            anomalies=result.anomalies,
            tool_calls=records_from_ledger(result.ledger),
            ending=ending,
            messages=result.messages,
            requests=result.requests,
            cancel_requested=result.cancel_requested,
            cancel_lost_race=result.cancel_lost_race,
            stream_fallbacks=result.stream_fallbacks,
            unknown_effects=result.ledger.unknown(),
            awaiting_approval=result.ledger.awaiting_approval(),
            ledger=result.ledger,
            payload=result.payload,
            lifecycle=result.lifecycle,
        )

    # -- derived from the ending ---------------------------------------------------------------

    @property
    def deadline(self) -> str | None:
        """Which deadline passed (``"queued"``, ``"overall"``, ``"tool_round_limit"``...)."""
        return self.ending.deadline

    @property
    def abandoned(self) -> str | None:
        """Why the drive gave up on a run that still exists (``"http_503"``, ``"timeout"``...):
        ``recover()`` or ``drive()`` continue it, with the same ledger."""
        return self.ending.detail if self.ending.kind is EndingKind.ABANDONED else None

    @property
    def cancel_unconfirmed(self) -> bool:
        """A cancel was not confirmed within the cancelling deadline."""
        return self.ending.kind is EndingKind.CANCEL_UNCONFIRMED

    @property
    def ok(self) -> bool:
        """Whether the run completed, with no deadline passed on the way."""
        return self.ending.kind is EndingKind.TERMINAL and self.status == RunStatus.COMPLETED

    @property
    def text(self) -> str:
        """The assistant's answer: every message text of the run, joined by blank lines."""
        return "\n\n".join(self.messages)

    @cached_property
    def run(self) -> Run | None:
        """The last SDK ``Run`` object read (built on first access)."""
        return sdk_model(Run, self.payload)

    @cached_property
    def snapshot(self) -> LifecycleSnapshot | None:
        """The lifecycle snapshot (state, journal, anomalies), taken on first access."""
        return self.lifecycle.snapshot() if self.lifecycle is not None else None

    def __repr__(self) -> str:
        # ids, status and counts only: message texts, outputs and the Run object may carry
        # anything a tool or the model produced (I8)
        return (
            f"RunOutcome(status={self.status!r}, run_id={self.run_id!r}, "
            f"thread_id={self.thread_id!r}, ending={str(self.ending)!r}, "
            f"transitions={len(self.history)}, anomalies={len(self.anomalies)}, "
            f"tool_calls={len(self.tool_calls)}, messages=<{len(self.messages)}>, "
            f"requests={self.requests}, cancel_requested={self.cancel_requested}, "
            f"cancel_lost_race={self.cancel_lost_race}, "
            f"stream_fallbacks={self.stream_fallbacks}, "
            f"unknown_effects={len(self.unknown_effects)})"
        )

    def raise_for_status(self) -> RunOutcome:
        """Raise unless the run completed; return ``self`` when it did.

        Raises:
            PollTimeout: the drive did not reach a terminal status on its own: a deadline
                passed, the cancel was not confirmed, it was abandoned (``abandoned:<reason>``),
                held, interrupted, or the run is lost.
            RunFailed: the run failed (``detail`` carries ``last_error``).
            RunExpired: the run expired.
            RunCancelled: the run was cancelled.
            RunIncomplete: the run ended incomplete (``detail`` carries the reason).
        """
        ending = self.ending
        if ending.kind is not EndingKind.TERMINAL:
            waited = 0.0
            if self.history and self.history[0].at is not None and self.history[-1].at is not None:
                waited = self.history[-1].at - self.history[0].at
            reasons = [self.deadline] if self.deadline is not None else []
            if self.abandoned is not None:
                reasons.append(f"abandoned:{self.abandoned}")
            elif not reasons:
                reasons.append(ending.kind.value)
            raise PollTimeout(self.run_id, waited, self.status, ", ".join(reasons))
        exc = _RAISES.get(self.status)
        if exc is not None:
            raise exc(self.run_id, self.status, self._detail())
        return self

    def _detail(self) -> str:
        payload = self.payload or {}
        error = payload.get("last_error")
        if isinstance(error, dict):
            return f"{error.get('code')}: {error.get('message')}"
        details = payload.get("incomplete_details")
        if isinstance(details, dict) and details.get("reason"):
            return str(details["reason"])
        return ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready export; the diagram overlay reads ``lifecycle``, ``state``, ``journal``."""
        snapshot = self.snapshot
        snap = snapshot.model_dump(mode="json") if snapshot is not None else {}
        return {
            "lifecycle": snap.get("lifecycle", "assistants-run"),
            "state": self.status,
            "ending": self.ending.kind.value,
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
            "awaiting_approval": list(self.awaiting_approval),
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


def public_event(event: Any) -> RunEvent | None:
    """The public event for a kernel event (``None`` for kernel-only ones)."""
    if isinstance(event, StatusSeen):
        return StatusChanged(
            event.run_id, event.entries, event.status, sdk_model(Run, event.payload)
        )
    if isinstance(event, RoundStarted):
        return ToolsStarted(event.run_id, event.round, event.calls)
    if isinstance(event, RoundFinished):
        return ToolsFinished(event.run_id, event.round, event.records)
    if isinstance(event, StepSeen):
        step = sdk_model(RunStep, event.payload)
        return StepCompleted(event.run_id, step) if step is not None else None
    if isinstance(event, MessageSeen):
        message = sdk_model(Message, event.payload)
        return MessageCompleted(event.run_id, message, event.text) if message is not None else None
    return None
