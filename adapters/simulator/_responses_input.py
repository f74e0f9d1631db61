"""The input items of a ``/v1/responses`` create, as the simulator stores and reads them.

Each item gets an id (the ``input_items`` endpoint lists them); a ``function_call_output`` needs
a ``call_id`` and an ``mcp_approval_response`` the fields its SDK type requires (rule 9 of
``_responses_behaviour.py``); anything missing is a 400 in the API's wording.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from adapters.simulator import _responses_mcp as mcp
from adapters.simulator._records import ApiError

__all__ = ["input_items", "output_text"]

Json = dict[str, Any]


def input_items(raw: str | list[Json] | None, new_id: Callable[[str], str]) -> list[Json]:
    """The request's input as stored items, each with an id (``input_items``)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        raw = [{"role": "user", "content": raw}]
    items: list[Json] = []
    for i, given in enumerate(raw):
        item = dict(given)
        kind = item.setdefault("type", "message")
        if kind == "message":
            content = item.get("content")
            if isinstance(content, str):
                item["content"] = [{"type": "input_text", "text": content}]
            item.setdefault("id", new_id("msg"))
        elif kind == mcp.RESPONSE_ITEM:
            mcp.check_item(item, i)
            item.setdefault("id", new_id("mcpa"))
            items.append(item)
            continue
        elif kind == "function_call_output":
            if not isinstance(item.get("call_id"), str):
                raise ApiError(
                    400,
                    f"Missing required parameter: 'input[{i}].call_id'.",
                    param=f"input[{i}].call_id",
                    code="missing_required_parameter",
                )
            item.setdefault("id", new_id("fco"))
        else:
            item.setdefault("id", new_id("item"))
        item.setdefault("status", "completed")
        items.append(item)
    return items


def output_text(output: object) -> str:
    """A ``function_call_output``'s ``output`` as text (content parts: their text joined)."""
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        texts = [p.get("text") for p in output if isinstance(p, dict)]
        if texts and all(isinstance(t, str) for t in texts):
            return "".join(str(t) for t in texts)
    return json.dumps(output)
