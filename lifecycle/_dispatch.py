"""Tool outputs, error outputs and the tool-call ledger: the pure half of tool dispatch.

Theory of operation
-------------------
Dispatching one ``requires_action`` round is split in three so that the core never runs anything:

1. ``ToolRegistry.prepare(call)`` parses and validates the call and returns a :class:`Prepared`:
   either a tool with validated arguments, or an error :class:`ToolOutput` (the tool is not run);
2. the driver (``adapters.openai``) calls :meth:`Prepared.call_tool` where it likes (inline, in a
   thread, awaited in a task group) under its own timeout;
3. ``ToolRegistry.finish(call, result)`` turns the result or the exception into a string output.

Every output is a string, capped in size with an explicit marker; the full text is kept on the
:class:`ToolOutput` for the caller. Error outputs are stable JSON objects of the form
``{"error": {"type": ..., "message": ..., ...}}`` so a model can react to them.

The :class:`ToolLedger` is keyed by ``tool_call_id`` and is the "at most one execution per id"
guarantee: a call moves ``intended -> started -> finished | failed | timed_out`` and then to
``delivered`` or ``executed_undelivered``; a call already started is never started again, whatever
a later poll or round repeats. Calls answered without running (unknown tool, bad arguments) are
``rejected``, then ``delivered`` or ``undelivered``. The ledger is a pydantic model, so it can be
persisted and restored.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

from lifecycle._records import ToolCall

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "CallState",
    "LedgerEntry",
    "Prepared",
    "ToolErrorKind",
    "ToolLedger",
    "ToolOutput",
    "cap_output",
    "error_output",
    "redact_secrets",
]

#: Default cap on a submitted output, in characters (16 KiB).
DEFAULT_MAX_OUTPUT_CHARS = 16 * 1024

_SECRET_PATTERNS = (
    re.compile(r"sk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{6,}"),
    re.compile(r"(?i)((?:api[_-]?key|authorization|password|secret|token)\s*[=:]\s*)\S+"),
)


def redact_secrets(text: str) -> str:
    """Replace API keys, bearer tokens and ``key=value`` credentials in ``text`` by a marker.

    Args:
        text: any text that may end up in an output, a log record or a repr.

    Returns:
        The text with every match replaced by ``[redacted]`` (the key name of a ``key=value``
        pair is kept).
    """
    out = _SECRET_PATTERNS[0].sub("[redacted]", text)
    out = _SECRET_PATTERNS[1].sub(r"\1[redacted]", out)
    return _SECRET_PATTERNS[2].sub(r"\1[redacted]", out)


class ToolErrorKind(StrEnum):
    """The ``error.type`` of an error output."""

    UNKNOWN_TOOL = "unknown_tool"  #: the name is not registered, or not allowed for this run
    INVALID_JSON = "invalid_json"  #: the arguments are not valid JSON
    NOT_AN_OBJECT = "not_an_object"  #: valid JSON, but not a JSON object
    INVALID_ARGUMENTS = "invalid_arguments"  #: a schema violation or an extra field
    TOOL_ERROR = "tool_error"  #: the tool raised
    TOOL_TIMEOUT = "tool_timeout"  #: the tool did not finish within its budget
    UNSERIALIZABLE_RESULT = "unserializable_result"  #: the result could not be JSON-encoded


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def cap_output(text: str, max_chars: int) -> tuple[str, bool]:
    """Cap ``text`` at ``max_chars`` characters, keeping its head and tail around a marker.

    Args:
        text: the full output.
        max_chars: the cap; at least 64.

    Returns:
        ``(capped, truncated)``. A capped text is at most ``max_chars`` long and contains the
        explicit marker ``[... truncated N of M chars ...]``.
    """
    if len(text) <= max_chars:
        return text, False
    marker = f"\n[... truncated {{n}} of {len(text)} chars ...]\n"
    room = max_chars - len(marker.format(n=len(text)))
    room = max(room, 0)
    head = room * 3 // 4
    tail = room - head
    dropped = len(text) - head - tail
    capped = text[:head] + marker.format(n=dropped) + (text[len(text) - tail :] if tail else "")
    return capped, True


@dataclass(frozen=True, slots=True)
class ToolOutput:
    """The output for one tool call, ready to submit.

    Attributes:
        tool_call_id: the call it answers.
        output: the string to submit (capped).
        full_output: the whole output before capping (kept for the caller, never submitted).
        error: the :class:`ToolErrorKind` value for an error output, else ``None``.
        truncated: whether ``output`` was capped.
    """

    tool_call_id: str
    output: str
    full_output: str
    error: str | None = None
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """Whether this is a tool result rather than an error output."""
        return self.error is None

    def to_param(self) -> dict[str, str]:
        """The ``{"tool_call_id", "output"}`` item of a ``submit_tool_outputs`` request."""
        return {"tool_call_id": self.tool_call_id, "output": self.output}

    def __repr__(self) -> str:
        # outputs may be large or sensitive: show sizes only
        return (
            f"ToolOutput(tool_call_id={self.tool_call_id!r}, error={self.error!r}, "
            f"output=<{len(self.output)} chars>, truncated={self.truncated})"
        )


def error_output(
    call_id: str, kind: ToolErrorKind, message: str, max_chars: int, **extra: Any
) -> ToolOutput:
    """Build a structured error output ``{"error": {"type", "message", **extra}}``.

    Args:
        call_id: the tool call answered.
        kind: the error type.
        message: a short, safe, human-readable message.
        max_chars: the output cap.
        **extra: more JSON-encodable fields (e.g. ``allowed=[...]``).
    """
    body: dict[str, Any] = {"type": kind.value, "message": message, **extra}
    full = _dumps({"error": body})
    for optional in ("schema", "errors"):
        # keep the error object valid JSON under the cap: drop the bulky optional parts first
        if len(full) > max_chars and optional in body:
            del body[optional]
            full = _dumps({"error": body})
    capped, truncated = cap_output(full, max_chars)
    return ToolOutput(call_id, capped, full, error=kind.value, truncated=truncated)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A validated tool call, ready to execute, or the error output that answers it instead.

    Attributes:
        call: the tool call.
        fn: the function to call (``None`` when ``error`` is set).
        kwargs: the validated arguments (typed values: pydantic models, enums, ...).
        is_async: whether ``fn`` is a coroutine function (the driver must await it).
        error: the error output when the call must not be executed.
    """

    call: ToolCall
    fn: Any = None
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    is_async: bool = False
    error: ToolOutput | None = None

    @property
    def ready(self) -> bool:
        """Whether the tool may be executed (no error output)."""
        return self.error is None and self.fn is not None

    def call_tool(self) -> Any:
        """Call the tool with the validated arguments.

        Returns:
            The tool's result, or, for an async tool, the coroutine to await.

        Raises:
            RuntimeError: the call is not ready (it has an error output).
            Exception: whatever the tool raises.
        """
        if not self.ready:
            raise RuntimeError(f"tool call {self.call.id} is not executable")
        return self.fn(**self.kwargs)


class CallState(StrEnum):
    """Where a tool call stands in the :class:`ToolLedger`."""

    INTENDED = "intended"  #: seen in a requires_action round, not started
    STARTED = "started"  #: handed to the driver; never started again
    FINISHED = "finished"  #: returned a result
    FAILED = "failed"  #: raised
    TIMED_OUT = "timed_out"  #: ran past its budget; an error output stands in for it
    REJECTED = "rejected"  #: answered with an error output without running
    DELIVERED = "delivered"  #: the server accepted the output
    EXECUTED_UNDELIVERED = "executed_undelivered"  #: it ran, but its output never got in
    UNDELIVERED = "undelivered"  #: rejected, and its error output never got in


class LedgerEntry(BaseModel):
    """One tool call in the ledger.

    Attributes:
        tool_call_id: the id.
        name: the tool name the model asked for.
        arguments: the raw argument string (untrusted; not shown in reprs).
        round: the requires_action round (1-based) that first asked for it.
        state: see :class:`CallState`.
        executed: whether the tool function was called.
        output: the submitted output text.
        full_output: the whole output before capping.
        error: the error type of an error output.
        truncated: whether the output was capped.
        reason: why an output was not delivered (``expired``, ``cancelled``, ...), or ``late``.
        late_output: the real result of a call that finished after its budget.
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


_AFTER_RUN = frozenset({CallState.FINISHED, CallState.FAILED, CallState.TIMED_OUT})
_NOT_DELIVERED = frozenset({CallState.EXECUTED_UNDELIVERED, CallState.UNDELIVERED})


class ToolLedger(BaseModel):
    """Every tool call of a run, keyed by ``tool_call_id``: at most one execution per id.

    Thread-safe (the sync driver records late results from worker threads). Serialisable with
    ``model_dump_json()`` and restorable with ``ToolLedger.model_validate_json(...)``.

    Attributes:
        entries: the calls, by id, in the order first seen.
    """

    entries: dict[str, LedgerEntry] = {}
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)

    def intend(self, call: ToolCall, round: int = 1) -> LedgerEntry:
        """Record a call seen in a round (no change if the id is already known)."""
        with self._lock:
            entry = self.entries.get(call.id)
            if entry is None:
                entry = LedgerEntry(
                    tool_call_id=call.id, name=call.name, arguments=call.arguments, round=round
                )
                self.entries[call.id] = entry
            return entry

    def claim(self, call_id: str) -> bool:
        """Mark an intended call ``started`` and return ``True``; ``False`` if it ever started.

        This is the one gate in front of every execution.
        """
        with self._lock:
            entry = self.entries.get(call_id)
            if entry is None or entry.state is not CallState.INTENDED:
                return False
            entry.state = CallState.STARTED
            entry.executed = True
            return True

    def record(self, output: ToolOutput, *, executed: bool, timed_out: bool = False) -> None:
        """Record the output of a call: finished, failed, timed out or rejected.

        Args:
            output: the output built by ``ToolRegistry.finish`` (or an error output).
            executed: whether the tool function ran (``False`` for a rejected call).
            timed_out: the tool is still running past its budget; ``output`` stands in for it.
        """
        with self._lock:
            entry = self.entries[output.tool_call_id]
            if entry.state not in (CallState.INTENDED, CallState.STARTED):
                return  # recorded once; a late duplicate never overwrites it
            if timed_out:
                entry.state = CallState.TIMED_OUT
            elif not executed:
                entry.state = CallState.REJECTED
            else:
                entry.state = CallState.FINISHED if output.ok else CallState.FAILED
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
            if entry.state in (CallState.TIMED_OUT, CallState.DELIVERED):
                entry.state = CallState.EXECUTED_UNDELIVERED
                entry.reason = "late"

    def delivered(self, call_ids: Iterable[str]) -> None:
        """Mark the outputs of these calls as accepted by the server."""
        with self._lock:
            for cid in call_ids:
                entry = self.entries.get(cid)
                if entry is None:
                    continue
                if entry.state in _AFTER_RUN or entry.state is CallState.REJECTED:
                    if entry.state is CallState.TIMED_OUT and entry.late_output is not None:
                        entry.state = CallState.EXECUTED_UNDELIVERED
                        entry.reason = "late"
                    else:
                        entry.state = CallState.DELIVERED
                elif entry.state in _NOT_DELIVERED and entry.reason != "late":
                    # an earlier drive gave up on it (abandoned, a deadline...); a later one
                    # delivered the recorded output after all
                    entry.state = CallState.DELIVERED
                    entry.reason = None

    def undelivered(self, call_ids: Iterable[str], reason: str) -> None:
        """Mark the outputs of these calls as never delivered (the run ended, was cancelled...)."""
        with self._lock:
            for cid in call_ids:
                entry = self.entries.get(cid)
                if entry is None or entry.state is CallState.DELIVERED:
                    continue
                if entry.state is CallState.EXECUTED_UNDELIVERED:
                    continue
                if entry.executed:
                    entry.state = CallState.EXECUTED_UNDELIVERED
                else:
                    entry.state = CallState.UNDELIVERED
                entry.reason = reason

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

    def __len__(self) -> int:
        return len(self.entries)
