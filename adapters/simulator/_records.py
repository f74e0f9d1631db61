"""The simulator's in-memory objects and their API (JSON) shapes.

Records are plain mutable dataclasses owned by the engine and only touched under its lock. Each has
a ``payload()`` that returns the exact JSON object the Assistants API sends, so the SDK's types
(``Run``, ``RunStep``, ``Message``, ``Thread``, ``Assistant``) validate it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.simulator import _behaviour as api
from adapters.simulator.scenarios import Scenario, SubmittedOutput
from adapters.simulator.scripts import ScriptRead, StatusScript, Step

__all__ = [
    "ApiError",
    "AssistantRecord",
    "MessageRecord",
    "RunRecord",
    "ScriptState",
    "SseEvent",
    "StepRecord",
    "ThreadRecord",
    "ToolCallRecord",
]

Json = dict[str, Any]


class ApiError(Exception):
    """An OpenAI-shaped error response.

    Args:
        status: the HTTP status code.
        message: the human message (the API's real text where known).
        param: the offending parameter, if any.
        code: the machine code, if any.
        type: the error type (``invalid_request_error`` unless said otherwise).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type

    def body(self) -> Json:
        """The response body: ``{"error": {"message", "type", "param", "code"}}``."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def not_found(kind: str, ident: str) -> ApiError:
    """The API's 404 for an unknown id."""
    return ApiError(404, f"No {kind} found with id '{ident}'.")


@dataclass(slots=True)
class SseEvent:
    """One server-sent event, serialised when it happened (``data`` is a snapshot)."""

    event: str
    data: Json


@dataclass(slots=True)
class AssistantRecord:
    """An assistant."""

    id: str
    created_at: int
    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[Json] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    response_format: Any = "auto"
    tool_resources: Json | None = None

    def payload(self) -> Json:
        """The ``assistant`` object."""
        return {
            "id": self.id,
            "object": "assistant",
            "created_at": self.created_at,
            "name": self.name,
            "description": self.description,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "tool_resources": self.tool_resources or {},
            "metadata": self.metadata,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "response_format": self.response_format,
        }


@dataclass(slots=True)
class MessageRecord:
    """A thread message."""

    id: str
    thread_id: str
    role: str
    text: str
    created_at: int
    status: str = "completed"
    completed_at: int | None = None
    incomplete_at: int | None = None
    incomplete_reason: str | None = None
    assistant_id: str | None = None
    run_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    attachments: list[Json] = field(default_factory=list)

    def payload(self, *, text: str | None = None) -> Json:
        """The ``thread.message`` object (``text`` overrides the content, e.g. empty at start)."""
        value = self.text if text is None else text
        content = [{"type": "text", "text": {"value": value, "annotations": []}}] if value else []
        return {
            "id": self.id,
            "object": "thread.message",
            "created_at": self.created_at,
            "thread_id": self.thread_id,
            "status": self.status,
            "incomplete_details": (
                {"reason": self.incomplete_reason} if self.incomplete_reason else None
            ),
            "completed_at": self.completed_at,
            "incomplete_at": self.incomplete_at,
            "role": self.role,
            "content": content,
            "assistant_id": self.assistant_id,
            "run_id": self.run_id,
            "attachments": self.attachments,
            "metadata": self.metadata,
        }


@dataclass(slots=True)
class ThreadRecord:
    """A thread and its messages (oldest first)."""

    id: str
    created_at: int
    metadata: dict[str, str] = field(default_factory=dict)
    tool_resources: Json | None = None
    messages: list[MessageRecord] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)

    def payload(self) -> Json:
        """The ``thread`` object."""
        return {
            "id": self.id,
            "object": "thread",
            "created_at": self.created_at,
            "metadata": self.metadata,
            "tool_resources": self.tool_resources or {},
        }


@dataclass(slots=True)
class ToolCallRecord:
    """One function call the scenario asked for; ``output`` is set by the submit."""

    id: str
    name: str
    arguments: str
    output: str | None = None

    def payload(self, *, with_output: bool = True) -> Json:
        """The function tool call object (shared by ``required_action`` and run steps)."""
        function: Json = {"name": self.name, "arguments": self.arguments}
        if with_output:
            function["output"] = self.output
        return {"id": self.id, "type": "function", "function": function}


@dataclass(slots=True)
class StepRecord:
    """A run step: ``tool_calls`` or ``message_creation``."""

    id: str
    run_id: str
    thread_id: str
    assistant_id: str
    type: str
    created_at: int
    status: str = api.IN_PROGRESS
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    message_id: str | None = None
    completed_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    last_error: Json | None = None
    usage: Json | None = None

    def payload(self) -> Json:
        """The ``thread.run.step`` object."""
        details: Json
        if self.type == "tool_calls":
            details = {"type": "tool_calls", "tool_calls": [c.payload() for c in self.tool_calls]}
        else:
            details = {
                "type": "message_creation",
                "message_creation": {"message_id": self.message_id},
            }
        return {
            "id": self.id,
            "object": "thread.run.step",
            "created_at": self.created_at,
            "run_id": self.run_id,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "type": self.type,
            "status": self.status,
            "cancelled_at": self.cancelled_at,
            "completed_at": self.completed_at,
            "expired_at": self.expired_at,
            "failed_at": self.failed_at,
            "last_error": self.last_error,
            "step_details": details,
            "usage": self.usage,
            "metadata": {},
        }


@dataclass(slots=True)
class ScriptState:
    """Where a scripted run is in its :class:`~adapters.simulator.StatusScript`.

    Attributes:
        script: the script.
        steps: the active sequence (the script's steps, or its ``on_cancel`` steps).
        branch: which sequence is active.
        index: the current step in ``steps``.
        since: the sim time the current step became current.
        reads: every JSON response that carried the run.
    """

    script: StatusScript
    steps: tuple[Step, ...]
    branch: Literal["main", "cancel"] = "main"
    index: int = 0
    since: float = 0.0
    reads: list[ScriptRead] = field(default_factory=list)

    @property
    def step(self) -> Step:
        """The current step."""
        return self.steps[self.index]


@dataclass(slots=True)
class RunRecord:
    """A run: its API fields plus the engine's progress through the scenario.

    Attributes:
        history: every status the run entered, with the sim-clock time of the change.
        events: every stream event the run produced, in order (streams read from an index).
        rounds: the outputs submitted per requires_action round.
        script: set for a scripted run (see :mod:`adapters.simulator.scripts`); such a run's
            ``status`` is the last *known* status served and its history holds every status
            string served, unknown ones included.
    """

    id: str
    thread_id: str
    assistant_id: str
    created_at: int
    model: str
    instructions: str
    tools: list[Json]
    metadata: dict[str, str]
    scenario_name: str
    scenario: Scenario
    options: Json
    status: str = api.QUEUED
    started_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    cancelled_at: int | None = None
    expires_at: int = 0
    last_error: Json | None = None
    incomplete_reason: str | None = None
    usage: Json | None = None
    required: list[ToolCallRecord] | None = None
    # engine progress
    step_index: int = 0
    phase_start: float = 0.0
    entered: bool = False
    cancel_at: float | None = None
    open_step: StepRecord | None = None
    open_message: MessageRecord | None = None
    history: list[tuple[str, float]] = field(default_factory=list)
    events: list[SseEvent] = field(default_factory=list)
    rounds: list[list[SubmittedOutput]] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    script: ScriptState | None = None

    @property
    def terminal(self) -> bool:
        """Whether the run is in a terminal status (``completed``, ``failed``, ...)."""
        return self.status in api.TERMINAL

    def payload(self) -> Json:
        """The ``thread.run`` object as of now."""
        required = None
        if self.required is not None:
            required = {
                "type": "submit_tool_outputs",
                "submit_tool_outputs": {
                    "tool_calls": [c.payload(with_output=False) for c in self.required]
                },
            }
        return {
            "id": self.id,
            "object": "thread.run",
            "created_at": self.created_at,
            "assistant_id": self.assistant_id,
            "thread_id": self.thread_id,
            "status": self.status,
            "started_at": self.started_at,
            "expires_at": None if self.terminal else self.expires_at,
            "cancelled_at": self.cancelled_at,
            "failed_at": self.failed_at,
            "completed_at": self.completed_at,
            "required_action": required,
            "last_error": self.last_error,
            "model": self.model,
            "instructions": self.instructions,
            "tools": self.tools,
            "metadata": self.metadata,
            "incomplete_details": (
                {"reason": self.incomplete_reason} if self.incomplete_reason else None
            ),
            "usage": self.usage,
            **self.options,
        }
