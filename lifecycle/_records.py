"""Small immutable records the engine produces: journal entries, anomalies, tool calls, commands.

They are slotted frozen dataclasses (cheap: a tracked run with a five-entry journal stays well
under 2 KB). Snapshots convert them to pydantic models only when asked (``_snapshot.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

__all__ = [
    "REJECTING_KINDS",
    "Anomaly",
    "AnomalyKind",
    "Command",
    "DispatchTools",
    "Finished",
    "JournalEntry",
    "ToolCall",
    "Via",
]


class Via(StrEnum):
    """How a status reached the engine."""

    POLL = "poll"  #: a GET of the run (a snapshot: steps may have been missed)
    STREAM = "stream"  #: a server-sent event (one edge at a time)
    CLIENT = "client"  #: our own action, or the response to our own request
    WEBHOOK = "webhook"  #: a verified webhook event the server pushed (a snapshot, like a poll)


class AnomalyKind(StrEnum):
    """Why an observation was not applied as a plain transition."""

    UNKNOWN_STATUS = "unknown_status"  #: a status string the table does not know
    REGRESSION = "regression"  #: not reachable forward from the current state (a stale read)
    AFTER_TERMINAL = "after_terminal"  #: a non-terminal status after a terminal one
    TERMINAL_FLIP = "terminal_flip"  #: a different terminal status after a terminal one
    EXTERNAL_CANCEL = "external_cancel"  #: a cancel we did not request (applied, flagged)
    MISSING_TOOL_CALLS = "missing_tool_calls"  #: requires_action with no tool calls
    TOOL_CALLS_CHANGED = "tool_calls_changed"  #: the same requires_action with other calls
    STALE_ROUND = "stale_round"  #: requires_action asking only for calls already answered
    HOOK_FAILED = "hook_failed"  #: a user hook raised; the engine went on
    #: an answer about another object than the one followed (a chain's earlier response read
    #: again where the current one was asked for, a misrouted answer); not applied
    FOREIGN_OBJECT = "foreign_object"


#: Anomaly kinds that mean an observation was rejected (the state did not follow the server).
REJECTING_KINDS: frozenset[str] = frozenset(
    {
        AnomalyKind.UNKNOWN_STATUS,
        AnomalyKind.REGRESSION,
        AnomalyKind.AFTER_TERMINAL,
        AnomalyKind.TERMINAL_FLIP,
        AnomalyKind.STALE_ROUND,
        AnomalyKind.FOREIGN_OBJECT,
    }
)


class JournalEntry(NamedTuple):
    """One applied transition (a named tuple: cheap to build on the engine's hot path).

    Attributes:
        source: the status left.
        dest: the status entered.
        trigger: the table trigger that moved it.
        via: poll, stream or client.
        at: the caller's clock reading (seconds), or ``None`` if none was given.
        inferred: ``True`` for a step filled in because a poll skipped it.
        external: ``True`` for a client-driven edge we did not ask for (e.g. a foreign cancel).
        kind: the edge's kind (documented / tolerated).
    """

    source: str
    dest: str
    trigger: str
    via: str
    at: float | None
    inferred: bool = False
    external: bool = False
    kind: str = "documented"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """An observation that was recorded but not applied (or applied with a flag).

    Attributes:
        kind: see :class:`AnomalyKind`.
        observed: the raw value seen (the status string, or a hook name).
        state: the engine's state when it was seen (unchanged unless the kind says otherwise).
        at: the caller's clock reading, or ``None``.
        via: how it arrived.
        detail: a short human explanation.
    """

    kind: str
    observed: str
    state: str
    at: float | None
    via: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A function tool call the server asks the client to run, API-neutral.

    Attributes:
        id: the ``tool_call_id`` the output must answer.
        name: the function name the model chose (untrusted).
        arguments: the raw JSON argument string the model produced (untrusted).
        kind: ``function`` (a local tool to run), or ``mcp_approval`` (a Responses
            ``mcp_approval_request``: a remote MCP tool the server runs once the client approves;
            the client only answers it with a decision).
        server_label: the MCP server of an ``mcp_approval`` call.
    """

    id: str
    name: str
    arguments: str
    kind: str = "function"
    server_label: str | None = None

    def __repr__(self) -> str:
        # Arguments are model output and may be large or sensitive: show their size only.
        size = len(self.arguments)
        return f"ToolCall(id={self.id!r}, name={self.name!r}, arguments=<{size} chars>)"


@dataclass(frozen=True, slots=True)
class DispatchTools:
    """Command: the run waits for these tool calls' outputs. Emitted on entering requires_action.

    The driver runs the tools outside the machine and submits one output per call id.
    """

    state: str
    tool_calls: tuple[ToolCall, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """Command: the run reached a terminal status; stop driving it."""

    status: str


Command = DispatchTools | Finished
