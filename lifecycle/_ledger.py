"""The tool-call ledger: at most one execution per ``tool_call_id``, every move from a table.

Theory of operation
-------------------
A tool call's fate is a small lifecycle of its own. It is written here once, as data
(:data:`LEDGER_MOVES`: ``(state, event) -> state``), and the :class:`ToolLedger` methods are the
only way to move an entry: each method names its event, looks the move up and applies it under
the ledger's lock. A move the table does not list is ignored (the methods are idempotent: a
second ``record`` or a late duplicate never overwrites the first), so no caller ever assigns a
state by hand.

::

    intended --claim--> started --finish--> finished | failed ; --time_out--> timed_out
    intended --reject--> rejected            (answered with an error output, never run)
    intended --answer--> finished            (an MCP approval request answered with a decision)
    started | intended --mark_unknown--> unknown_effect   (started before a crash, output lost)
    started --reopen--> intended             (claimed, but the effect log says never started)
    finished | failed | timed_out | rejected --deliver--> delivered
    timed_out --late--> executed_undelivered (the real result came after the timeout output)
    not delivered --give_up--> executed_undelivered | undelivered  (with a reason)
    executed_undelivered | undelivered --deliver--> delivered   (a later drive got it in)
    unknown_effect --settle_done|settle_failed|settle_rerun--> finished | failed | intended
                                             (a person decided; see ToolLedger.settle)

The claim is the one gate in front of every execution: only an ``intended`` call can be claimed,
so a call that ever started is never started again, whatever a later poll or round repeats.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, model_validator

from lifecycle._dispatch import ToolOutput
from lifecycle._records import ToolCall

__all__ = ["LEDGER_MOVES", "CallState", "LedgerEntry", "LedgerEvent", "ToolLedger"]

#: The ``reason`` of a call whose real result arrived after its timeout output was used.
LATE = "late"


class CallState(StrEnum):
    """Where a tool call stands in the :class:`ToolLedger`."""

    INTENDED = "intended"  #: seen in a round, not started
    STARTED = "started"  #: handed to the driver; never started again
    FINISHED = "finished"  #: returned a result
    FAILED = "failed"  #: raised
    TIMED_OUT = "timed_out"  #: ran past its budget; an error output stands in for it
    REJECTED = "rejected"  #: answered with an error output without running
    DELIVERED = "delivered"  #: the server accepted the output
    EXECUTED_UNDELIVERED = "executed_undelivered"  #: it ran, but its output never got in
    UNDELIVERED = "undelivered"  #: rejected, and its error output never got in
    UNKNOWN_EFFECT = "unknown_effect"  #: it started before a crash and its output was lost


class LedgerEvent(StrEnum):
    """What can happen to a tool call (the ledger's triggers)."""

    CLAIM = "claim"
    FINISH = "finish"
    FAIL = "fail"
    TIME_OUT = "time_out"
    REJECT = "reject"
    MARK_UNKNOWN = "mark_unknown"
    REOPEN = "reopen"
    DELIVER = "deliver"
    DELIVER_TIMEOUT_OUTPUT = "deliver_timeout_output"  #: delivered, but its real result came late
    LATE = "late"
    GIVE_UP = "give_up"  #: an executed call's output will not get in
    GIVE_UP_UNRUN = "give_up_unrun"  #: an error output of a call never run will not get in
    SETTLE_DONE = "settle_done"  #: a person says an unknown effect happened (with its output)
    SETTLE_FAILED = "settle_failed"  #: a person says it failed (an error output answers it)
    SETTLE_RERUN = "settle_rerun"  #: a person says it never happened: it may run again
    ANSWER = "answer"  #: an MCP approval request answered with the approval hook's decision


_S, _E = CallState, LedgerEvent
_OUTPUT_READY = (_S.FINISHED, _S.FAILED, _S.TIMED_OUT, _S.REJECTED)

#: Every legal move of a tool call: ``(state, event) -> new state``. Nothing else moves one.
LEDGER_MOVES: Mapping[tuple[CallState, LedgerEvent], CallState] = {
    (_S.INTENDED, _E.CLAIM): _S.STARTED,
    (_S.STARTED, _E.FINISH): _S.FINISHED,
    (_S.STARTED, _E.FAIL): _S.FAILED,
    (_S.STARTED, _E.TIME_OUT): _S.TIMED_OUT,
    (_S.INTENDED, _E.REJECT): _S.REJECTED,
    (_S.INTENDED, _E.ANSWER): _S.FINISHED,
    (_S.INTENDED, _E.MARK_UNKNOWN): _S.UNKNOWN_EFFECT,
    (_S.STARTED, _E.MARK_UNKNOWN): _S.UNKNOWN_EFFECT,
    (_S.STARTED, _E.REOPEN): _S.INTENDED,
    **{(s, _E.DELIVER): _S.DELIVERED for s in _OUTPUT_READY},
    (_S.TIMED_OUT, _E.DELIVER_TIMEOUT_OUTPUT): _S.EXECUTED_UNDELIVERED,
    (_S.EXECUTED_UNDELIVERED, _E.DELIVER): _S.DELIVERED,
    (_S.UNDELIVERED, _E.DELIVER): _S.DELIVERED,
    (_S.TIMED_OUT, _E.LATE): _S.EXECUTED_UNDELIVERED,
    (_S.DELIVERED, _E.LATE): _S.EXECUTED_UNDELIVERED,
    **{(s, _E.GIVE_UP): _S.EXECUTED_UNDELIVERED for s in (*_OUTPUT_READY, _S.STARTED)},
    **{(s, _E.GIVE_UP_UNRUN): _S.UNDELIVERED for s in (_S.INTENDED, _S.REJECTED)},
    (_S.UNKNOWN_EFFECT, _E.SETTLE_DONE): _S.FINISHED,
    (_S.UNKNOWN_EFFECT, _E.SETTLE_FAILED): _S.FAILED,
    (_S.UNKNOWN_EFFECT, _E.SETTLE_RERUN): _S.INTENDED,
}

#: States whose output is settled for good: a drive leaves them as they are.
SETTLED: frozenset[CallState] = frozenset(
    {_S.DELIVERED, _S.EXECUTED_UNDELIVERED, _S.UNKNOWN_EFFECT}
)


class LedgerEntry(BaseModel):
    """One tool call in the ledger.

    Attributes:
        tool_call_id: the id.
        name: the tool name the model asked for.
        arguments: the raw argument string (untrusted; not shown in reprs).
        round: the round (1-based) that first asked for it.
        state: see :class:`CallState`.
        executed: whether the tool function was called (or may have been).
        output: the submitted output text.
        full_output: the whole output before capping.
        error: the error type of an error output.
        truncated: whether the output was capped.
        reason: why an output was not delivered (``expired``, ``cancelled``, ...), or ``late``.
        late_output: the real result of a call that finished after its budget.
        kind: ``function``, or ``mcp_approval`` (see :class:`~lifecycle.ToolCall`).
        approval: for a call that needs approval: ``pending`` (asked, undecided), ``approved``
            or ``rejected``; ``None`` for the others.
    """

    model_config = ConfigDict(validate_assignment=False)

    tool_call_id: str
    name: str
    arguments: str
    round: int = 1
    state: CallState = CallState.INTENDED
    executed: bool = False
    output: str | None = None
    full_output: str | None = None
    error: str | None = None
    truncated: bool = False
    reason: str | None = None
    late_output: str | None = None
    kind: str = "function"
    approval: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _upgrade(cls, data: Any) -> Any:
        # ledgers saved before UNKNOWN_EFFECT was a state marked it by reason only
        if isinstance(data, dict) and data.get("reason") == CallState.UNKNOWN_EFFECT.value:
            data = {**data, "state": CallState.UNKNOWN_EFFECT.value, "reason": None}
        return data

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        for key, value in super().__repr_args__():
            if key in ("arguments", "output", "full_output", "late_output"):
                yield key, f"<{len(value)} chars>" if isinstance(value, str) else value
            else:
                yield key, value

    def to_output(self) -> ToolOutput | None:
        """The recorded output, if there is one."""
        if self.output is None:
            return None
        return ToolOutput(
            self.tool_call_id,
            self.output,
            self.full_output if self.full_output is not None else self.output,
            error=self.error,
            truncated=self.truncated,
        )


class ToolLedger(BaseModel):
    """Every tool call of a run, keyed by ``tool_call_id``: at most one execution per id.

    Thread-safe (a sync tool past its budget reports its late result from its worker thread).
    Serialisable with ``model_dump_json()`` and restorable with ``model_validate_json(...)``.

    Attributes:
        entries: the calls, by id, in the order first seen.
    """

    entries: dict[str, LedgerEntry] = {}
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def _move(self, entry: LedgerEntry, event: LedgerEvent) -> bool:
        """Apply ``event`` to ``entry`` if the table has the move (call with the lock held)."""
        dest = LEDGER_MOVES.get((entry.state, event))
        if dest is None:
            return False
        entry.state = dest
        return True

    def intend(self, call: ToolCall, round: int = 1) -> LedgerEntry:
        """Record a call seen in a round (no change if the id is already known)."""
        with self._lock:
            entry = self.entries.get(call.id)
            if entry is None:
                entry = LedgerEntry(
                    tool_call_id=call.id,
                    name=call.name,
                    arguments=call.arguments,
                    round=round,
                    kind=call.kind,
                )
                self.entries[call.id] = entry
            return entry

    def claim(self, call_id: str) -> bool:
        """Mark an intended call ``started`` and return ``True``; ``False`` if it ever started.

        This is the one gate in front of every execution.
        """
        with self._lock:
            entry = self.entries.get(call_id)
            if entry is None or not self._move(entry, LedgerEvent.CLAIM):
                return False
            entry.executed = True
            return True

    def record(self, output: ToolOutput, *, executed: bool, timed_out: bool = False) -> None:
        """Record the output of a call: finished, failed, timed out or rejected (once).

        Args:
            output: the output built by ``ToolRegistry.finish`` (or an error output).
            executed: whether the tool function ran (``False`` for a call answered without
                running: an unknown tool, invalid arguments, no budget left).
            timed_out: the tool is still running past its budget; ``output`` stands in for it.
        """
        if not executed:
            event = LedgerEvent.REJECT
        elif timed_out:
            event = LedgerEvent.TIME_OUT
        else:
            event = LedgerEvent.FINISH if output.ok else LedgerEvent.FAIL
        with self._lock:
            entry = self.entries[output.tool_call_id]
            if not self._move(entry, event):
                return  # recorded once; a late duplicate never overwrites it
            entry.output = output.output
            entry.full_output = output.full_output
            entry.error = output.error
            entry.truncated = output.truncated

    def record_late(self, output: ToolOutput) -> None:
        """Record the real result of a call that finished after its budget ran out."""
        with self._lock:
            entry = self.entries.get(output.tool_call_id)
            if entry is None or entry.late_output is not None:
                return
            entry.late_output = output.full_output
            if self._move(entry, LedgerEvent.LATE):
                entry.reason = LATE

    def delivered(self, call_ids: Iterable[str]) -> None:
        """Mark the outputs of these calls as accepted by the server."""
        with self._lock:
            for cid in call_ids:
                entry = self.entries.get(cid)
                if entry is None or entry.reason == LATE:
                    continue
                if entry.late_output is not None and self._move(
                    entry, LedgerEvent.DELIVER_TIMEOUT_OUTPUT
                ):
                    entry.reason = LATE
                elif self._move(entry, LedgerEvent.DELIVER):
                    entry.reason = None

    def undelivered(self, call_ids: Iterable[str], reason: str) -> None:
        """Mark the outputs of these calls as never delivered (the run ended, was cancelled...)."""
        with self._lock:
            for cid in call_ids:
                entry = self.entries.get(cid)
                if entry is None:
                    continue
                event = LedgerEvent.GIVE_UP if entry.executed else LedgerEvent.GIVE_UP_UNRUN
                if self._move(entry, event):
                    entry.reason = reason

    def mark_unknown(self, call_id: str) -> None:
        """A call started before a crash and its output was lost: its effect is unknown.

        It is never run again and never answered on the caller's behalf.
        """
        with self._lock:
            entry = self.entries.get(call_id)
            if entry is not None and self._move(entry, LedgerEvent.MARK_UNKNOWN):
                entry.executed = True

    def reopen(self, call_id: str) -> None:
        """A claimed call whose effect log says it never started: it may run after all."""
        with self._lock:
            entry = self.entries.get(call_id)
            if entry is not None and self._move(entry, LedgerEvent.REOPEN):
                entry.executed = False

    def settle(self, call_id: str, decision: str, output: ToolOutput | None = None) -> None:
        """A person's decision about a call whose effect is unknown (after a crash).

        Args:
            call_id: the call.
            decision: ``"done"`` (the effect happened: ``output`` is what it returned, to be
                submitted by the next drive), ``"failed"`` (``output`` is the error output to
                submit; a default one is recorded when omitted) or ``"run_again"`` (it never
                happened: the next drive runs it).
            output: the output to record (see ``decision``).

        Raises:
            KeyError: no such call.
            ValueError: the call's effect is not unknown, the decision is not one of the three,
                or ``"done"`` without an output.
        """
        events = {
            "done": LedgerEvent.SETTLE_DONE,
            "failed": LedgerEvent.SETTLE_FAILED,
            "run_again": LedgerEvent.SETTLE_RERUN,
        }
        if decision not in events:
            raise ValueError(f"decision must be one of {sorted(events)}, not {decision!r}")
        if decision == "done" and output is None:
            raise ValueError("a call settled done needs the output its effect returned")
        with self._lock:
            entry = self.entries[call_id]
            if entry.state is not CallState.UNKNOWN_EFFECT:
                raise ValueError(f"call {call_id} is {entry.state.value}, not unknown_effect")
            self._move(entry, events[decision])
            entry.reason = None
            if decision == "run_again":
                entry.executed = False
                return
            if output is None:
                text = '{"error": {"type": "tool_error", "message": "the tool\'s effect was lost"}}'
                output = ToolOutput(call_id, text, text, error="tool_error")
            entry.output, entry.full_output = output.output, output.full_output
            entry.error, entry.truncated = output.error, output.truncated

    def decide(self, call_id: str, approved: bool | None, output: ToolOutput | None = None) -> None:
        """Record the approval hook's decision about an intended call.

        Args:
            call_id: the call.
            approved: ``None`` (asked, undecided: ``pending``), ``True`` or ``False``.
            output: what answers the call now: the rejection's error output of a tool, or the
                decision of an MCP approval request (then the call is ``finished``). An
                approved tool has none: it runs next.
        """
        with self._lock:
            entry = self.entries[call_id]
            if entry.state is not CallState.INTENDED:
                return
            entry.approval = {None: "pending", True: "approved", False: "rejected"}[approved]
            if output is None:
                return
            answered = entry.kind != "function"
            self._move(entry, LedgerEvent.ANSWER if answered else LedgerEvent.REJECT)
            entry.output, entry.full_output = output.output, output.full_output
            entry.error, entry.truncated = output.error, output.truncated

    def output_for(self, call_id: str) -> ToolOutput | None:
        """The recorded output of a call, reused instead of running the call again."""
        with self._lock:
            entry = self.entries.get(call_id)
            return entry.to_output() if entry is not None else None

    def state_of(self, call_id: str) -> CallState | None:
        """The state of a call, or ``None`` if the id is unknown."""
        entry = self.entries.get(call_id)
        return entry.state if entry is not None else None

    def pending(self, call_ids: Sequence[str]) -> list[str]:
        """The ids among ``call_ids`` that have no recorded output yet."""
        return [c for c in call_ids if self.output_for(c) is None]

    def unknown(self) -> tuple[str, ...]:
        """The ids whose effect is unknown, in the order first seen."""
        return tuple(c for c, e in self.entries.items() if e.state is CallState.UNKNOWN_EFFECT)

    def awaiting_approval(self) -> tuple[str, ...]:
        """The ids asked about and not decided yet, in the order first seen."""
        return tuple(c for c, e in self.entries.items() if e.approval == "pending")

    def unsettled(self) -> list[str]:
        """The ids whose output is neither delivered nor given up for good."""
        return [c for c, e in self.entries.items() if e.state not in SETTLED]

    def __len__(self) -> int:
        return len(self.entries)
