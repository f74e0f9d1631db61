"""The simulator's in-memory responses and chains, and their API (JSON) shapes.

Theory of operation
-------------------
A :class:`ResponseRecord` is one ``/v1/responses`` object plus where it is in its scenario. A
scenario (``scenarios.py``) is played across a **chain** of responses: each response plays the
steps from ``start_step`` until one ends it (``CallTools`` completes it with ``function_call``
items, ``Answer``/``Fail``/``EndIncomplete`` end it, ``Hang`` never does); the next response,
created with ``previous_response_id`` and one output per call, starts at the step after the
``CallTools``. So scenario progress lives on the responses themselves (``start_step``,
``rounds``), never on the chain: when a previous response is answered twice (a fork, allowed by
the ``cancel-400-forks`` profile), each branch carries its own progress. The
:class:`ChainRecord` only remembers the scenario chosen when the chain began.

A ``RequestApproval`` step ends a response the same way with ``mcp_approval_request`` items
(:class:`ApprovalRecord`); the next response holds the client's decisions
(:class:`DecisionRecord`), and each time an approved MCP tool "runs" on the server the engine
logs an :class:`McpRun` (see ``_responses_mcp.py``).

Records are plain mutable dataclasses owned by the response engine and only touched under the
engine lock. ``payload()`` returns the exact JSON the API sends, so the SDK's ``Response``
validates it strictly (``output_text`` is not sent: it is an SDK-side property).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from adapters.simulator import _responses_behaviour as api
from adapters.simulator._records import SseEvent
from adapters.simulator.scenarios import McpToolSpec, Scenario, SubmittedOutput

__all__ = [
    "ApprovalRecord",
    "CallRecord",
    "ChainEntry",
    "ChainRecord",
    "DecisionRecord",
    "McpDecision",
    "McpRequest",
    "McpRun",
    "ResponseRecord",
    "mcp_output",
]

Json = dict[str, Any]
_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def mcp_output(spec: McpToolSpec) -> str:
    """What an approved MCP tool returns: ``spec.output`` with ``{name}``, ``{server_label}``,
    ``{arguments}`` and each top-level argument filled in (other braces kept as written)."""
    fields = {"name": spec.name, "server_label": spec.server_label, "arguments": spec.arguments}
    try:
        parsed = json.loads(spec.arguments)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        for key, value in parsed.items():
            fields.setdefault(str(key), value if isinstance(value, str) else json.dumps(value))
    return _PLACEHOLDER.sub(lambda m: fields.get(m.group(1), m.group(0)), spec.output)


@dataclass(slots=True)
class ChainRecord:
    """The responses linked by ``previous_response_id`` that play one scenario.

    Attributes:
        id: the id of the chain's first response.
        scenario_name: the scenario chosen when the chain began.
        scenario: that scenario.
    """

    id: str
    scenario_name: str
    scenario: Scenario


@dataclass(slots=True)
class CallRecord:
    """One ``function_call`` output item the scenario made."""

    id: str
    call_id: str
    name: str
    arguments: str

    def payload(self, *, status: str = api.COMPLETED) -> Json:
        """The ``function_call`` output item (``status`` ``in_progress`` while streaming)."""
        return {
            "type": "function_call",
            "id": self.id,
            "call_id": self.call_id,
            "name": self.name,
            "arguments": self.arguments if status == api.COMPLETED else "",
            "status": status,
        }


@dataclass(frozen=True, slots=True)
class McpRequest:
    """One ``mcp_approval_request`` a response ended with (:attr:`ChainEntry.approval_requests`).

    Attributes:
        id: the request's id (what an ``mcp_approval_response`` names as
            ``approval_request_id``).
        server_label: the MCP server.
        name: the tool on that server.
        arguments: the JSON argument string.
    """

    id: str
    server_label: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class McpDecision:
    """One ``mcp_approval_response`` a response was created with (:attr:`ChainEntry.decisions`).

    Attributes:
        request: the approval request it answers.
        approve: the client's decision.
        reason: the reason the client gave, if any.
        mcp_call_id: the id of the ``mcp_call`` item of this response once the approved tool
            ran (``None`` while it has not, and always for a rejection).
    """

    request: McpRequest
    approve: bool
    reason: str | None
    mcp_call_id: str | None


@dataclass(frozen=True, slots=True)
class McpRun:
    """One run of a remote MCP tool on the simulated server (:meth:`Simulator.mcp_runs`).

    Attributes:
        mcp_call_id: the ``mcp_call`` item that reports it.
        approval_request_id: the approval request it ran for.
        response_id: the response whose output carries the ``mcp_call``.
        server_label: the MCP server.
        name: the tool.
        arguments: the JSON argument string.
        output: what the tool returned.
        at: the sim-clock time it ran.
    """

    mcp_call_id: str
    approval_request_id: str
    response_id: str
    server_label: str
    name: str
    arguments: str
    output: str
    at: float


@dataclass(slots=True)
class ApprovalRecord:
    """One ``mcp_approval_request`` output item a ``RequestApproval`` step made.

    Attributes:
        ran_in: the response whose ``mcp_call`` ran the tool (at most one, ever).
    """

    id: str
    spec: McpToolSpec
    ran_in: str | None = None

    def request(self) -> McpRequest:
        """The public view of the request."""
        spec = self.spec
        return McpRequest(self.id, spec.server_label, spec.name, spec.arguments)

    def payload(self) -> Json:
        """The ``mcp_approval_request`` output item (SDK ``McpApprovalRequest``)."""
        spec = self.spec
        return {
            "type": "mcp_approval_request",
            "id": self.id,
            "server_label": spec.server_label,
            "name": spec.name,
            "arguments": spec.arguments,
        }


@dataclass(slots=True)
class DecisionRecord:
    """The client's answer to one approval request, held by the response it created."""

    request: ApprovalRecord
    approve: bool
    reason: str | None
    mcp_call_id: str | None = None

    def entry(self) -> McpDecision:
        """The public view of the decision."""
        return McpDecision(self.request.request(), self.approve, self.reason, self.mcp_call_id)

    def result(self) -> SubmittedOutput:
        """What the model sees of it: the tool's output, or the refusal (for the ``Answer``)."""
        spec = self.request.spec
        if self.approve:
            text = mcp_output(spec)
        else:
            text = "not approved" + (f": {self.reason}" if self.reason else "")
        return SubmittedOutput(self.request.id, spec.name, spec.arguments, text)


@dataclass(frozen=True, slots=True)
class ChainEntry:
    """One response of a chain, as :meth:`Simulator.response_chain` reports it.

    Attributes:
        response_id: the response.
        scenario: the name of the scenario its chain plays.
        status: its status now.
        background: whether it was created with ``background=true``.
        outputs: the ``function_call_output`` items it was created with, matched to the calls
            of its previous response (empty for the first response of a turn).
        calls: the function calls it ended with (``SubmittedOutput`` with an empty ``output``),
            which the next response must answer.
        answered_by: every response created with this one as ``previous_response_id``, oldest
            first (more than one only when a profile allows forks).
        deleted: whether it was deleted (``DELETE /responses/{id}``).
        approval_requests: the ``mcp_approval_request`` items it ended with, which the next
            response must answer.
        decisions: the ``mcp_approval_response`` items it was created with, matched to the
            requests of its previous response, each with the ``mcp_call`` it ran (if any).
    """

    response_id: str
    scenario: str
    status: str
    background: bool
    outputs: tuple[SubmittedOutput, ...]
    calls: tuple[SubmittedOutput, ...]
    answered_by: tuple[str, ...]
    deleted: bool
    approval_requests: tuple[McpRequest, ...] = ()
    decisions: tuple[McpDecision, ...] = ()


@dataclass(slots=True)
class ResponseRecord:
    """A response: its API fields plus its progress through the chain's scenario.

    Attributes:
        options: the echoed request fields (``tools``, ``temperature``, ...), already defaulted.
        input_items: this response's own input items, with ids (``input_items`` endpoint).
        received: the outputs this response was created with (its round), in request order.
        rounds: every round of outputs along its lineage in this turn, its own last.
        start_step: the scenario step it started at.
        step_index: the step being played.
        calls: the function calls it ended with (rule 3), answered by the next response.
        approvals: the MCP approval requests it ended with, answered by the next response.
        decisions: the answers to its previous response's approval requests it was created with.
        answers: ids of the responses created with this one as ``previous_response_id``.
        history: every status it entered, with the sim-clock time.
        events: every stream event, ``data["sequence_number"]`` equal to its index.
        flip_at: when a cancelled response flips to :attr:`flip_to` (a lost cancel race).
    """

    id: str
    chain: ChainRecord
    created_at: float
    background: bool
    model: str
    instructions: Any
    metadata: dict[str, str]
    previous_response_id: str | None
    options: Json
    input_items: list[Json]
    received: tuple[SubmittedOutput, ...] = ()
    rounds: tuple[tuple[SubmittedOutput, ...], ...] = ()
    status: str = api.QUEUED
    output: list[Json] = field(default_factory=list)
    error: Json | None = None
    incomplete_reason: str | None = None
    usage: Json | None = None
    completed_at: float | None = None
    # engine progress
    start_step: int = 0
    step_index: int = 0
    phase_start: float = 0.0
    entered: bool = False
    calls: list[CallRecord] = field(default_factory=list)
    approvals: list[ApprovalRecord] = field(default_factory=list)
    decisions: list[DecisionRecord] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    history: list[tuple[str, float]] = field(default_factory=list)
    events: list[SseEvent] = field(default_factory=list)
    flip_at: float | None = None
    flip_to: str | None = None
    deleted: bool = False

    @property
    def terminal(self) -> bool:
        """Whether the response is in a terminal status."""
        return self.status in api.TERMINAL

    def emit(self, kind: str, **fields: Any) -> None:
        """Append the stream event ``kind`` with the next ``sequence_number`` (rule 7)."""
        data: Json = {"type": kind, "sequence_number": len(self.events), **fields}
        self.events.append(SseEvent(kind, data))

    def entry(self) -> ChainEntry:
        """This response as a :class:`ChainEntry`."""
        calls = tuple(SubmittedOutput(c.call_id, c.name, c.arguments, "") for c in self.calls)
        return ChainEntry(
            self.id,
            self.chain.scenario_name,
            self.status,
            self.background,
            self.received,
            calls,
            tuple(self.answers),
            self.deleted,
            tuple(a.request() for a in self.approvals),
            tuple(d.entry() for d in self.decisions),
        )

    def payload(self) -> Json:
        """The ``response`` object as of now."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": self.status,
            "background": self.background,
            "completed_at": self.completed_at,
            "error": self.error,
            "incomplete_details": (
                {"reason": self.incomplete_reason} if self.incomplete_reason else None
            ),
            "instructions": self.instructions,
            "metadata": self.metadata,
            "model": self.model,
            "output": [dict(item) for item in self.output],
            "previous_response_id": self.previous_response_id,
            "usage": self.usage,
            **self.options,
        }
