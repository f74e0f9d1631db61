"""Approvals: calls that need a yes before anything happens, decided by one hook.

Theory of operation
-------------------
Two kinds of call wait for a decision, through the same hook:

* a registered tool declared ``needs_approval`` (``True``, or a predicate on its validated
  arguments): it runs only once approved; a rejection answers the model with a
  ``not_approved`` error output (the reason included), and the tool never runs;
* a Responses ``mcp_approval_request`` (``ToolCall.kind == "mcp_approval"``): a remote MCP tool
  the server runs once the client approves; the client only answers with the decision.

The drive asks the hook (:data:`Approver`) about every such call of a round before it runs any
call of that round. The hook answers per call: :class:`Decision` (or ``True``/``False``), or
``None`` for "not decided yet": the drive then stops ``held`` (nothing of the round runs) with
the decisions taken so far in the ledger (durably, with a store); driving the run again asks
again about the undecided calls only. A hook that raises counts as undecided (fail closed).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from lifecycle._dispatch import ToolErrorKind, ToolOutput, error_output, redact_secrets
from lifecycle._records import ToolCall

__all__ = [
    "MCP_APPROVAL",
    "ApprovalRequest",
    "Approver",
    "AsyncApprover",
    "Decision",
    "approval_answer",
    "as_decision",
    "rejection_output",
]

#: ``ToolCall.kind`` of a Responses ``mcp_approval_request``.
MCP_APPROVAL = "mcp_approval"
_MAX_REASON = 300


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    """A call waiting for a decision.

    Attributes:
        call_id: the call (a ``function_call``'s ``call_id``, or the approval request's id).
        name: the tool's name.
        arguments: the raw JSON arguments (untrusted; not shown in reprs).
        kind: ``function`` (a registered tool) or ``mcp_approval`` (a remote MCP tool).
        server_label: the MCP server of an ``mcp_approval`` request.
        run_id: the run (or response) that asked.
    """

    call_id: str
    name: str
    arguments: str
    kind: str = "function"
    server_label: str | None = None
    run_id: str = ""

    @classmethod
    def of(cls, call: ToolCall, run_id: str) -> ApprovalRequest:
        """The request for ``call``."""
        return cls(call.id, call.name, call.arguments, call.kind, call.server_label, run_id)

    def __repr__(self) -> str:
        return (
            f"ApprovalRequest(call_id={self.call_id!r}, name={self.name!r}, kind={self.kind!r}, "
            f"arguments=<{len(self.arguments)} chars>)"
        )


@dataclass(frozen=True, slots=True)
class Decision:
    """The hook's answer about one call.

    Attributes:
        approved: whether the call may go ahead.
        reason: why (shown to the model on a rejection; secrets redacted, 300 chars at most).
    """

    approved: bool
    reason: str | None = None

    @classmethod
    def approve(cls, reason: str | None = None) -> Decision:
        """Let the call go ahead."""
        return cls(True, reason)

    @classmethod
    def reject(cls, reason: str | None = None) -> Decision:
        """Refuse the call: it never runs, and the model is told."""
        return cls(False, reason)


#: What an approval hook answers about one request (``None``: not decided yet).
Answer = Decision | bool | None
#: The approval hook: a decision per request, or ``None`` while undecided.
Approver = Callable[[ApprovalRequest], Answer]
#: The async controller's hook may also be a coroutine function.
AsyncApprover = Callable[[ApprovalRequest], Answer | Awaitable[Answer]]


def as_decision(value: object) -> Decision | None:
    """The hook's answer as a :class:`Decision` (``None``: undecided).

    Raises:
        TypeError: the hook answered something else.
    """
    if value is None or isinstance(value, Decision):
        return value
    if isinstance(value, bool):
        return Decision(value)
    raise TypeError(
        f"an approval hook must answer a Decision, True/False or None, not {type(value).__name__}"
    )


def rejection_output(call_id: str, decision: Decision, max_chars: int) -> ToolOutput:
    """The error output that answers a rejected tool call (the model sees the reason)."""
    reason = redact_secrets(decision.reason)[:_MAX_REASON] if decision.reason else None
    message = "the call was not approved" + (f": {reason}" if reason else "")
    return error_output(call_id, ToolErrorKind.NOT_APPROVED, message, max_chars)


def approval_answer(call_id: str, decision: Decision) -> ToolOutput:
    """The answer recorded for an MCP approval request (``{"approve": ..., "reason": ...}``)."""
    body: dict[str, object] = {"approve": decision.approved}
    if decision.reason:
        body["reason"] = redact_secrets(decision.reason)[:_MAX_REASON]
    text = json.dumps(body, sort_keys=True)
    error = None if decision.approved else ToolErrorKind.NOT_APPROVED.value
    return ToolOutput(call_id, text, text, error=error)
