"""Request bodies the simulator accepts, as pydantic models (unknown fields are rejected).

Validation errors become OpenAI-shaped 400s (:func:`parse_body`), with the API's wording for the
common cases: ``Unrecognized request argument supplied: foo`` (the Responses API says
``Unknown parameter: 'foo'.``, code ``unknown_parameter``) and
``Missing required parameter: 'assistant_id'.``
"""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adapters.simulator._records import ApiError

__all__ = [
    "AssistantCreate",
    "MessageCreate",
    "ResponseCreate",
    "RunCreate",
    "SubmitToolOutputs",
    "ThreadAndRunCreate",
    "ThreadCreate",
    "parse_body",
]

Json = dict[str, Any]
M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MessageCreate(_Body):
    """``POST /threads/{id}/messages`` (and items of ``messages`` / ``additional_messages``)."""

    role: str
    content: str | list[Json]
    attachments: list[Json] | None = None
    metadata: dict[str, str] | None = None

    def text(self) -> str:
        """The message text: the string, or the text parts joined."""
        if isinstance(self.content, str):
            return self.content
        parts = [p.get("text") for p in self.content if p.get("type") == "text"]
        return "\n".join(p for p in parts if isinstance(p, str))


class AssistantCreate(_Body):
    """``POST /assistants``."""

    model: str
    name: str | None = None
    description: str | None = None
    instructions: str | None = None
    tools: list[Json] = Field(default_factory=list)
    tool_resources: Json | None = None
    metadata: dict[str, str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    response_format: Any = None
    reasoning_effort: str | None = None


class ThreadCreate(_Body):
    """``POST /threads`` (also the ``thread`` of create-and-run)."""

    messages: list[MessageCreate] = Field(default_factory=list)
    metadata: dict[str, str] | None = None
    tool_resources: Json | None = None


class _RunOptions(_Body):
    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    tools: list[Json] | None = None
    metadata: dict[str, str] | None = None
    stream: bool | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: Json | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None


class RunCreate(_RunOptions):
    """``POST /threads/{id}/runs``."""

    additional_instructions: str | None = None
    additional_messages: list[MessageCreate] | None = None
    reasoning_effort: str | None = None


class ThreadAndRunCreate(_RunOptions):
    """``POST /threads/runs`` (create-and-run)."""

    thread: ThreadCreate | None = None
    tool_resources: Json | None = None


class ToolOutput(_Body):
    """One item of ``tool_outputs``."""

    tool_call_id: str
    output: str = ""


class SubmitToolOutputs(_Body):
    """``POST /threads/{t}/runs/{r}/submit_tool_outputs``."""

    tool_outputs: list[ToolOutput]
    stream: bool | None = None


class ResponseCreate(_Body):
    """``POST /responses``: the fields the simulator acts on are typed, the rest are accepted
    (every key of the SDK's ``ResponseCreateParams``) and echoed where the ``Response`` has them."""

    model: str
    input: str | list[Json] | None = None
    instructions: str | None = None
    background: bool | None = None
    background_options: Json | None = None
    stream: bool | None = None
    stream_options: Json | None = None
    previous_response_id: str | None = None
    conversation: str | Json | None = None
    metadata: dict[str, str] | None = None
    tools: list[Json] | None = None
    tool_choice: Any = None
    parallel_tool_calls: bool | None = None
    max_tool_calls: int | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_logprobs: int | None = None
    store: bool | None = None
    truncation: str | None = None
    text: Json | None = None
    reasoning: Json | None = None
    service_tier: str | None = None
    user: str | None = None
    safety_identifier: str | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    prompt_cache_options: Json | None = None
    prompt: Json | None = None
    include: list[str] | None = None
    context_management: list[Json] | None = None
    moderation: Json | None = None
    access_programs: Json | None = None
    image: Json | None = None


class MetadataUpdate(_Body):
    """``POST`` on an object to update its metadata."""

    metadata: dict[str, str] | None = None


def parse_body(
    raw: bytes, model: type[M], dialect: Literal["assistants", "responses"] = "assistants"
) -> M:
    """Parse and validate a JSON request body.

    Args:
        raw: the request body (empty means ``{}``).
        model: the pydantic model of the endpoint.
        dialect: whose wording an unknown field gets (the Assistants API's or the Responses
            API's).

    Returns:
        The validated body.

    Raises:
        ApiError: 400, OpenAI-shaped, for bad JSON, a non-object, unknown or missing fields and
            wrong types.
    """
    try:
        data = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400,
            "We could not parse the JSON body of your request. (HINT: This likely means you "
            "aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, "
            f"but what was sent was not valid JSON. Error: {exc.__class__.__name__})",
        ) from None
    if not isinstance(data, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _to_api_error(exc, dialect) from None


def _to_api_error(exc: ValidationError, dialect: str) -> ApiError:
    err = exc.errors()[0]
    param = ".".join(str(p) for p in err["loc"]) or None
    if err["type"] == "extra_forbidden" and dialect == "responses":
        return ApiError(
            400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
        )
    if err["type"] == "extra_forbidden":
        return ApiError(400, f"Unrecognized request argument supplied: {param}", param=param)
    if err["type"] == "missing":
        return ApiError(
            400,
            f"Missing required parameter: '{param}'.",
            param=param,
            code="missing_required_parameter",
        )
    return ApiError(
        400,
        f"Invalid value for '{param}': {err['msg']}.",
        param=param,
        code="invalid_value",
    )
