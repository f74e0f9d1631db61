"""Tool outputs and error outputs: the pure half of tool dispatch.

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

The ledger that records each call's fate (and guarantees at most one execution per id) is in
``_ledger.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lifecycle._records import ToolCall

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "Prepared",
    "ToolErrorKind",
    "ToolOutput",
    "cap_output",
    "error_output",
    "redact_secrets",
]

#: Default cap on a submitted output, in characters (16 KiB).
DEFAULT_MAX_OUTPUT_CHARS = 16 * 1024

_API_KEY = re.compile(r"sk-[A-Za-z0-9_\-]{6,}")
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-~+/=]{6,}")
#: ``name=value``, ``name: value`` and JSON ``"name": "value"`` credentials. The name may end in
#: a quote (a JSON key, also escaped at any depth: ``\"token\": \"...\"``); the value is a quoted
#: string (kept quoted, so JSON stays JSON) or a bare word with its auth scheme (``Basic ...``). A
#: bare word stops at a quote or a backslash, so the text around it keeps its quoting.
_KEY_VALUE = re.compile(
    r"""(?ix)
    (?P<name>
        (?:api[_-]?key|access[_-]?key|authorization|password|secret[\w-]*|token)
        \\*["']?\s*[=:]\s*
    )
    (?:
        (?P<q>")(?:[^"\\]|\\.)*"                  # "...", escapes included
      | (?P<e>\\+")(?:[^"\\]|\\+[^"\\])*(?P=e)  # \"...\" in a JSON string (any depth)
      | (?P<s>')[^']*'                           # '...'
      | (?:(?:basic|bearer|digest)\s+)?[^\s"'\\]+  # a bare word (with its scheme)
    )
    """
)


def _mask_value(match: re.Match[str]) -> str:
    quote = match["q"] or match["e"] or match["s"] or ""
    return f"{match['name']}{quote}[redacted]{quote}"


def redact_secrets(text: str) -> str:
    """Replace API keys, bearer tokens and credential ``name=value`` pairs in ``text`` by a marker.

    Known forms: ``sk-...`` keys; ``Bearer ...`` tokens; a value after ``token``, ``api_key``,
    ``api-key``, ``apikey``, ``access_key``, ``authorization``, ``password`` or ``secret...``
    (any case, any prefix such as ``access_token``) and ``=`` or ``:``, bare or quoted, including
    a JSON ``"token": "..."`` pair (also escaped inside another JSON string).

    Args:
        text: any text that may end up in an output, a log record or a repr.

    Returns:
        The text with every secret replaced by ``[redacted]`` (the name of a ``name=value`` pair
        and the quotes around a quoted value are kept).
    """
    out = _API_KEY.sub("[redacted]", text)
    out = _BEARER.sub(r"\1[redacted]", out)
    return _KEY_VALUE.sub(_mask_value, out)


class ToolErrorKind(StrEnum):
    """The ``error.type`` of an error output."""

    UNKNOWN_TOOL = "unknown_tool"  #: the name is not registered, or not allowed for this run
    INVALID_JSON = "invalid_json"  #: the arguments are not valid JSON
    NOT_AN_OBJECT = "not_an_object"  #: valid JSON, but not a JSON object
    INVALID_ARGUMENTS = "invalid_arguments"  #: a schema violation or an extra field
    TOOL_ERROR = "tool_error"  #: the tool raised
    TOOL_TIMEOUT = "tool_timeout"  #: the tool did not finish within its budget
    UNSERIALIZABLE_RESULT = "unserializable_result"  #: the result could not be JSON-encoded
    NOT_APPROVED = "not_approved"  #: the approval hook rejected the call; it never ran


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
