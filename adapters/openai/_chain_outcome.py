"""What a chain drive produces: the :class:`ResponseOutcome`, and the events on the way.

A chain that ends ``failed``, ``cancelled`` or ``incomplete`` is a result; raising is opt-in
through :meth:`ResponseOutcome.raise_for_status`, which raises for anything but ``completed``.
The SDK's ``Response`` of the last response is built from the JSON only when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from openai.types.responses import Response

from adapters.openai._outcome import ToolsFinished, ToolsStarted, sdk_model
from lifecycle import (
    Anomaly,
    ChainStatus,
    JournalEntry,
    LifecycleSnapshot,
    PollTimeout,
    RunCancelled,
    RunEndedUnsuccessfully,
    RunFailed,
    RunIncomplete,
    RunLifecycle,
    ToolLedger,
)
from lifecycle.kernel import (
    DriveResult,
    Ending,
    EndingKind,
    RoundFinished,
    RoundStarted,
    StatusSeen,
    ToolCallRecord,
    output_text,
    records_from_ledger,
)

__all__ = ["ChainEvent", "ChainFinished", "ResponseChanged", "ResponseOutcome", "chain_event"]

_RAISES: Mapping[str, type[RunEndedUnsuccessfully]] = {
    ChainStatus.FAILED: RunFailed,
    ChainStatus.CANCELLED: RunCancelled,
    ChainStatus.INCOMPLETE: RunIncomplete,
}


@dataclass(frozen=True)
class ResponseOutcome:
    """The result of driving one chain of background responses.

    Attributes:
        status: the chain's final status (``completed``, ``failed``, ``cancelled``,
            ``incomplete``), or the last one when the drive ended otherwise (see ``ending``).
        response_ids: the chain's responses, oldest first.
        ending: why the drive stopped (``terminal``, ``deadline``, ``outcome_unknown``...).
        history: the chain's journal (across all its responses).
        anomalies: observations recorded but not applied.
        tool_calls: every tool call of the chain and its fate (``.call_id``, ``.name``,
            ``.arguments``, ``.output``, ``.state``).
        requests: HTTP requests made (retries included).
        cancel_requested: whether a cancel was asked for.
        cancel_lost_race: a cancel was asked for but the chain ended otherwise.
        stream_fallbacks: times a stream could not be followed and polling took over.
        unknown_effects: call ids whose side effect may have happened before a crash and whose
            output was lost (never re-run).
        awaiting_approval: call ids (and MCP approval request ids) the approval hook has not
            decided yet (the chain ended ``held``): ``drive(response_id=...)`` asks again.
        ledger: the tool ledger.
    """

    status: str
    response_ids: tuple[str, ...]
    ending: Ending
    history: tuple[JournalEntry, ...]
    anomalies: tuple[Anomaly, ...]
    tool_calls: tuple[ToolCallRecord, ...]
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
    def from_result(cls, result: DriveResult) -> ResponseOutcome:
        """The outcome of a kernel drive of a chain."""
        return cls(
            status=result.ending.outcome_status,
            response_ids=result.object_ids,
            ending=result.ending,
            history=result.history,
            anomalies=result.anomalies,
            tool_calls=records_from_ledger(result.ledger),
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

    @property
    def response_id(self) -> str:
        """The chain's last response (``""`` when none was created)."""
        return self.response_ids[-1] if self.response_ids else ""

    @property
    def output_text(self) -> str:
        """The final response's text."""
        return output_text(self.payload)

    @property
    def deadline(self) -> str | None:
        """Which deadline passed, if one did."""
        return self.ending.deadline

    @property
    def ok(self) -> bool:
        """Whether the chain completed, with no deadline passed on the way."""
        return self.ending.kind is EndingKind.TERMINAL and self.status == ChainStatus.COMPLETED

    @cached_property
    def response(self) -> Response | None:
        """The last SDK ``Response`` read (built on first access)."""
        return sdk_model(Response, self.payload)

    @cached_property
    def snapshot(self) -> LifecycleSnapshot | None:
        """The chain's lifecycle snapshot, taken on first access."""
        return self.lifecycle.snapshot() if self.lifecycle is not None else None

    def __repr__(self) -> str:
        return (
            f"ResponseOutcome(status={self.status!r}, response_ids={self.response_ids!r}, "
            f"ending={str(self.ending)!r}, transitions={len(self.history)}, "
            f"anomalies={len(self.anomalies)}, tool_calls={len(self.tool_calls)}, "
            f"requests={self.requests})"
        )

    def raise_for_status(self) -> ResponseOutcome:
        """Raise unless the chain completed; return ``self`` when it did.

        Raises:
            PollTimeout: the drive did not reach a terminal status on its own (a deadline, a
                lost answer whose outcome is unknown, an interruption...).
            RunFailed: the chain's last response failed (``detail`` carries ``error``).
            RunCancelled: it was cancelled.
            RunIncomplete: it ended incomplete (``detail`` carries the reason).
        """
        ending = self.ending
        if ending.kind is not EndingKind.TERMINAL:
            reason = ending.deadline or ending.detail or ending.kind.value
            raise PollTimeout(self.response_id, 0.0, self.status, f"{ending.kind.value}: {reason}")
        exc = _RAISES.get(self.status)
        if exc is not None:
            raise exc(self.response_id, self.status, self._detail())
        return self

    def _detail(self) -> str:
        payload = self.payload or {}
        error = payload.get("error")
        if isinstance(error, dict):
            return f"{error.get('code')}: {error.get('message')}"
        details = payload.get("incomplete_details")
        if isinstance(details, dict) and details.get("reason"):
            return str(details["reason"])
        return ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready export (the diagram overlay reads ``lifecycle``, ``state``, ``journal``)."""
        snapshot = self.snapshot
        snap = snapshot.model_dump(mode="json") if snapshot is not None else {}
        return {
            "lifecycle": snap.get("lifecycle", "response-chain"),
            "state": self.status,
            "ending": self.ending.kind.value,
            "response_ids": list(self.response_ids),
            "journal": snap.get("journal", []),
            "anomalies": snap.get("anomalies", []),
            "deadline": self.deadline,
            "requests": self.requests,
            "tool_calls": [
                {"call_id": t.id, "name": t.name, "state": t.state, "round": t.round}
                for t in self.tool_calls
            ],
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class ResponseChanged:
    """The chain moved: ``entries`` are the applied transitions; ``response`` the response read."""

    response_id: str
    entries: tuple[JournalEntry, ...]
    status: str
    response: Response | None


@dataclass(frozen=True, slots=True)
class ChainFinished:
    """The last event: the drive ended with this outcome."""

    outcome: ResponseOutcome


ChainEvent = ResponseChanged | ToolsStarted | ToolsFinished | ChainFinished


def chain_event(event: Any) -> ChainEvent | None:
    """The public event for a kernel event of a chain (``None`` for kernel-only ones)."""
    if isinstance(event, StatusSeen):
        response = sdk_model(Response, event.payload)
        return ResponseChanged(event.run_id, event.entries, event.status, response)
    if isinstance(event, RoundStarted):
        return ToolsStarted(event.run_id, event.round, event.calls)
    if isinstance(event, RoundFinished):
        return ToolsFinished(event.run_id, event.round, event.records)
    return None
