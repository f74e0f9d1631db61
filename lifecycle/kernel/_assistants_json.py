"""The Assistants API's JSON, read without trusting it: runs, tool calls, steps, messages, lists.

Anything that is not what the API sends (malformed JSON, an HTML page, a list where an object
belongs, a run with no ``id`` or ``status``, a tool call without an id or a function) is a
``MALFORMED`` :class:`~lifecycle.kernel.Failure`, never an exception: the kernel treats it as a
lost observation.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from lifecycle._records import ToolCall
from lifecycle.kernel._binding import Observation, StreamItem
from lifecycle.kernel._messages import Failure, FailureKind

__all__ = ["EMPTY", "json_value", "malformed", "message_item", "page", "parse_run", "step_item"]

EMPTY = StreamItem()
_MESSAGE_DONE = "completed"  # Message.status (messages have no lifecycle table)
_STEP_DONE = "completed"  # StepStatus.COMPLETED


def malformed(message: str) -> Failure:
    return Failure(FailureKind.MALFORMED, message=message)


def json_value(body: bytes) -> Any:
    """The JSON value of a body, or a ``MALFORMED`` failure."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return malformed("the body is not JSON")


def _tool_calls(action: Any) -> tuple[ToolCall, ...] | Failure | None:
    """The function calls of a ``required_action``; ``None`` when it carries none."""
    if action is None:
        return None
    if not isinstance(action, dict):
        return malformed("required_action is not an object")
    outputs = action.get("submit_tool_outputs")
    if outputs is None:
        return None
    if not isinstance(outputs, dict):
        return malformed("submit_tool_outputs is not an object")
    calls = outputs.get("tool_calls") or []
    if not isinstance(calls, list):
        return malformed("tool_calls is not a list")
    out: list[ToolCall] = []
    for call in calls:
        fn = call.get("function") if isinstance(call, dict) else None
        if not isinstance(fn, dict):
            return malformed("a tool call without a function")
        cid, name, arguments = call.get("id"), fn.get("name"), fn.get("arguments", "")
        if not isinstance(cid, str) or not cid or not isinstance(name, str):
            return malformed("a tool call without an id or a name")
        if not isinstance(arguments, str):
            return malformed("tool call arguments are not a string")
        out.append(ToolCall(cid, name, arguments))
    return tuple(out)


def parse_run(data: Any) -> Observation | Failure:
    """A run object (decoded JSON) as an :class:`Observation`, or a ``MALFORMED`` failure."""
    if not isinstance(data, dict):
        return malformed("not a JSON object")
    run_id, status = data.get("id"), data.get("status")
    if not isinstance(run_id, str) or not run_id or not isinstance(status, str):
        return malformed("not a run object (no id or status)")
    calls = _tool_calls(data.get("required_action"))
    if isinstance(calls, Failure):
        return calls
    expires = data.get("expires_at")
    expires_at = (
        float(expires)
        if isinstance(expires, int | float)
        and not isinstance(expires, bool)
        and math.isfinite(expires)
        else None
    )
    meta = data.get("metadata")
    metadata = (
        {k: v for k, v in meta.items() if isinstance(k, str) and isinstance(v, str)}
        if isinstance(meta, dict)
        else {}
    )
    return Observation(run_id, status, calls, expires_at, metadata, data)


def page(body: bytes) -> list[Any] | Failure:
    """The ``data`` list of a list answer."""
    data = json_value(body)
    if isinstance(data, Failure):
        return data
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        return malformed("not a list object")
    items: list[Any] = data["data"]
    return items


def _message_text(message: Mapping[str, Any]) -> str:
    parts = []
    for block in message.get("content") or ():
        text = (
            block.get("text") if isinstance(block, dict) and block.get("type") == "text" else None
        )
        value = text.get("value") if isinstance(text, dict) else None
        if isinstance(value, str):
            parts.append(value)
    return "".join(parts)


def message_item(message: Any) -> StreamItem:
    """A completed assistant message as an item (anything else: an empty item)."""
    if not isinstance(message, dict) or not isinstance(message.get("id"), str):
        return EMPTY
    if message.get("role") != "assistant" or message.get("status") != _MESSAGE_DONE:
        return EMPTY
    return StreamItem(message=message, message_id=message["id"], text=_message_text(message))


def step_item(step: Any) -> StreamItem:
    if (
        isinstance(step, dict)
        and step.get("status") == _STEP_DONE
        and isinstance(step.get("id"), str)
    ):
        return StreamItem(step=step, step_id=step["id"])
    return EMPTY
