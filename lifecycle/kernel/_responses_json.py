"""The Responses API's JSON, read as a chain: responses and their stream events.

A response is observed as the *chain's* status (``lifecycle.ChainStatus``): the response's own
status, except that a ``completed`` response carrying ``function_call`` output items is
``requires_action`` with those calls (the client must answer them with the next response).
Anything that is not what the API sends is a ``MALFORMED`` :class:`~lifecycle.kernel.Failure`.
"""

from __future__ import annotations

from typing import Any

from lifecycle._approval import MCP_APPROVAL
from lifecycle._records import ToolCall
from lifecycle._status import ChainStatus
from lifecycle.kernel._assistants_json import json_value, malformed
from lifecycle.kernel._binding import Observation, StreamItem
from lifecycle.kernel._messages import Failure, FailureKind, SseEvent

__all__ = ["CLIENT_ITEMS", "STATUS_EVENTS", "output_text", "parse_response", "parse_response_event"]

#: output item types the client must answer in the next response
CLIENT_ITEMS = frozenset({"function_call", "mcp_approval_request"})
#: stream events that carry the whole response (there is no ``response.cancelled`` event)
STATUS_EVENTS = frozenset(
    {
        "response.created",
        "response.queued",
        "response.in_progress",
        "response.completed",
        "response.failed",
        "response.incomplete",
    }
)
_COMPLETED = ChainStatus.COMPLETED.value
_REQUIRES_ACTION = ChainStatus.REQUIRES_ACTION.value


def _calls(output: list[Any]) -> tuple[ToolCall, ...] | Failure:
    calls: list[ToolCall] = []
    for item in output:
        if not isinstance(item, dict) or item.get("type") not in CLIENT_ITEMS:
            continue
        if item["type"] == "mcp_approval_request":
            approval = _approval_request(item)
            if isinstance(approval, Failure):
                return approval
            calls.append(approval)
            continue
        call_id, name, arguments = item.get("call_id"), item.get("name"), item.get("arguments", "")
        if not isinstance(call_id, str) or not call_id or not isinstance(name, str):
            return malformed("a function_call without a call_id or a name")
        if not isinstance(arguments, str):
            return malformed("function_call arguments are not a string")
        calls.append(ToolCall(call_id, name, arguments))
    return tuple(calls)


def _approval_request(item: dict[str, Any]) -> ToolCall | Failure:
    """An ``mcp_approval_request`` as a call the client answers with a decision (its ``id``)."""
    request_id, name, label = item.get("id"), item.get("name"), item.get("server_label")
    arguments = item.get("arguments", "")
    if not isinstance(request_id, str) or not request_id or not isinstance(name, str):
        return malformed("an mcp_approval_request without an id or a name")
    if not isinstance(arguments, str) or not isinstance(label, str | None):
        return malformed("an mcp_approval_request with non-string arguments or server_label")
    return ToolCall(request_id, name, arguments, MCP_APPROVAL, label)


def parse_response(data: Any) -> Observation | Failure:
    """A response object (decoded JSON) as the chain's :class:`Observation`."""
    if not isinstance(data, dict):
        return malformed("not a JSON object")
    response_id, status = data.get("id"), data.get("status")
    if not isinstance(response_id, str) or not response_id or not isinstance(status, str):
        return malformed("not a response object (no id or status)")
    output = data.get("output") or []
    if not isinstance(output, list):
        return malformed("output is not a list")
    calls = _calls(output)
    if isinstance(calls, Failure):
        return calls
    tool_calls: tuple[ToolCall, ...] | None = None
    if status == _COMPLETED and calls:
        status, tool_calls = _REQUIRES_ACTION, calls
    meta = data.get("metadata")
    metadata = (
        {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(meta, dict)
        else {}
    )
    return Observation(response_id, status, tool_calls, None, metadata, data)


def parse_body(body: bytes) -> Observation | Failure:
    """A response body as the chain's :class:`Observation`."""
    data = json_value(body)
    return data if isinstance(data, Failure) else parse_response(data)


def parse_response_event(event: SseEvent) -> StreamItem:
    """A Responses stream event: status events observe the chain; ``error`` fails the stream;
    every other event only advances the stream's position (``sequence_number``)."""
    data = event.data
    if not isinstance(data, dict):
        return StreamItem(failure=malformed("a stream event that is not an object"))
    sequence = data.get("sequence_number")
    position = sequence if isinstance(sequence, int) and not isinstance(sequence, bool) else None
    kind = event.event or str(data.get("type") or "")
    if kind in STATUS_EVENTS:
        parsed = parse_response(data.get("response"))
        if isinstance(parsed, Failure):
            return StreamItem(failure=parsed, sequence=position)
        return StreamItem(observation=parsed, sequence=position)
    if kind == "error":
        return StreamItem(failure=Failure(FailureKind.STREAM, message="error event"))
    return StreamItem(sequence=position)


def output_text(payload: Any) -> str:
    """The text of a response's assistant messages (what the SDK's ``output_text`` joins)."""
    if not isinstance(payload, dict):
        return ""
    parts: list[str] = []
    for item in payload.get("output") or ():
        if not isinstance(item, dict) or item.get("type") != "message":
            continue
        for block in item.get("content") or ():
            if isinstance(block, dict) and block.get("type") == "output_text":
                text = block.get("text")
                if isinstance(text, str):
                    parts.append(text)
    return "".join(parts)
