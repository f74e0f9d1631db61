"""The tool registry: typed Python functions exposed to the model as OpenAI function tools.

Theory of operation
-------------------
``@registry.tool`` reads a function's signature and docstring once, at registration, and builds a
pydantic model of its arguments (``extra="forbid"``, ``strict=True``: nothing the model sends is
coerced or repaired; how a function becomes a model and a schema is ``_tool_schema.py``). The
model gives the JSON schema for :meth:`ToolRegistry.definitions` and the validator for
:meth:`ToolRegistry.prepare`. A schema is marked ``"strict": true`` only where the API allows it:
every property required and ``additionalProperties: false`` on every object.

The registry is an explicit ``{name: ToolSpec}`` dict. A call is looked up by its exact name, and
only among the names allowed for the run; nothing is ever resolved with ``getattr``, imports or
fuzzy matching. The registry never runs a tool itself (see ``_dispatch.py``): it prepares a call
and formats the result the driver hands back, so this module stays free of I/O and of asyncio.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar, overload

import pydantic_core
from pydantic import BaseModel, ValidationError

from lifecycle._approval import MCP_APPROVAL
from lifecycle._dispatch import (
    DEFAULT_MAX_OUTPUT_CHARS,
    Prepared,
    ToolErrorKind,
    ToolOutput,
    cap_output,
    error_output,
    redact_secrets,
)
from lifecycle._records import ToolCall
from lifecycle._tool_schema import (
    arguments_model,
    clean_schema,
    described,
    is_strict_schema,
    split_docstring,
)
from lifecycle.errors import ToolDispatchError

__all__ = ["ToolRegistry", "ToolSpec"]

F = TypeVar("F", bound=Callable[..., Any])

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_MAX_MESSAGE = 300


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A registered tool.

    Attributes:
        name: the function name the model uses.
        description: the description shown to the model (from the docstring by default).
        fn: the Python function.
        is_async: whether ``fn`` is a coroutine function.
        arguments_model: the pydantic model that validates the arguments.
        parameters: the JSON schema of the arguments.
        strict: whether the schema qualifies for OpenAI strict mode.
        needs_approval: ``True`` when every call needs the approval hook's yes before it runs,
            or a predicate on the validated arguments (called with them as keyword arguments).
    """

    name: str
    description: str
    fn: Callable[..., Any]
    is_async: bool
    arguments_model: type[BaseModel]
    parameters: dict[str, Any]
    strict: bool
    needs_approval: bool | Callable[..., bool] = False

    def definition(self) -> dict[str, Any]:
        """The OpenAI function-tool definition ``{"type": "function", "function": {...}}``."""
        function: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
            "strict": self.strict,
        }
        return {"type": "function", "function": function}

    def response_definition(self) -> dict[str, Any]:
        """The Responses API's function-tool shape (``{"type": "function", "name", ...}``)."""
        return {"type": "function", **self.definition()["function"]}


class ToolRegistry:
    """An explicit registry of function tools, with strict argument checking.

    Args:
        max_output_chars: the cap on each submitted output (default 16 KiB); longer outputs are
            cut with an explicit marker and the full text is kept on the :class:`ToolOutput`.
        expose_exception_messages: when ``True`` (default), an error output for a raising tool
            carries the exception's message, with secrets redacted and capped at 300 chars; when
            ``False``, only the exception type.
        redact_outputs: when ``True`` (default), successful outputs are passed through
            :func:`~lifecycle.redact_secrets` too (API keys, bearer tokens, ``key=value``
            credentials), both the submitted text and the full text kept for the caller: a
            careless tool that echoes a credential never gets it submitted, logged or stored.

    Example::

        tools = ToolRegistry()

        @tools.tool
        def add(a: int, b: int) -> int:
            \"\"\"Add two integers.\"\"\"
            return a + b

        tools.definitions()  # -> [{"type": "function", "function": {"name": "add", ...}}]
    """

    def __init__(
        self,
        *,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
        expose_exception_messages: bool = True,
        redact_outputs: bool = True,
    ) -> None:
        if max_output_chars < 256:
            raise ValueError("max_output_chars must be at least 256")
        self._max_output_chars = max_output_chars
        self.expose_exception_messages = expose_exception_messages
        self.redact_outputs = redact_outputs
        self._tools: dict[str, ToolSpec] = {}

    @property
    def max_output_chars(self) -> int:
        """The cap on each submitted output, fixed at construction (at least 256: the cap keeps
        room for its truncation marker)."""
        return self._max_output_chars

    # -- registration --------------------------------------------------------------------------

    @overload
    def tool(self, fn: F, /) -> F: ...

    @overload
    def tool(
        self,
        *,
        name: str | None = None,
        description: str | None = None,
        needs_approval: bool | Callable[..., bool] = False,
    ) -> Callable[[F], F]: ...

    def tool(
        self,
        fn: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        description: str | None = None,
        needs_approval: bool | Callable[..., bool] = False,
    ) -> Any:
        """Register a typed function (sync or async) as a tool; usable bare or with options.

        Args:
            fn: the function (when used as ``@registry.tool``).
            name: the tool name (default: the function's ``__name__``; a callable object or a
                ``functools.partial`` has none: name it).
            description: the description (default: the docstring without its sections).
            needs_approval: ``True`` (every call), or a predicate on the validated arguments:
                such calls run only once the controller's approval hook says yes (see
                :mod:`lifecycle._approval`).

        Returns:
            The function itself, unchanged (or a decorator that returns it).

        Raises:
            ToolDispatchError: invalid or duplicate name, untyped or variadic parameters.
        """

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.register(f, name=name, description=description, needs_approval=needs_approval)
            return f

        return register(fn) if fn is not None else register

    def register(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        needs_approval: bool | Callable[..., bool] = False,
    ) -> ToolSpec:
        """Register ``fn`` and return its :class:`ToolSpec` (the non-decorator form of ``tool``).

        Raises:
            ToolDispatchError: invalid or duplicate name, untyped or variadic parameters.
        """
        tool_name = name if name is not None else getattr(fn, "__name__", "")
        if not _NAME_RE.match(tool_name) or tool_name.startswith("__"):
            raise ToolDispatchError(
                f"invalid tool name {tool_name!r}: use 1-64 letters, digits, '_' or '-'"
            )
        if tool_name in self._tools:
            raise ToolDispatchError(f"tool {tool_name!r} is already registered")
        model = arguments_model(fn, tool_name)
        parameters = clean_schema(model)
        target, doc = described(fn)
        doc_description, _ = split_docstring(doc)
        spec = ToolSpec(
            name=tool_name,
            description=description if description is not None else doc_description,
            fn=fn,
            is_async=inspect.iscoroutinefunction(target),
            arguments_model=model,
            parameters=parameters,
            strict=is_strict_schema(parameters),
            needs_approval=needs_approval,
        )
        self._tools[tool_name] = spec
        return spec

    # -- reading -------------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The registered tool names, in registration order."""
        return tuple(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def get(self, name: str) -> ToolSpec | None:
        """The spec registered under exactly ``name``, or ``None``."""
        return self._tools.get(name)

    def allowed_names(self, allowed: Collection[str] | None = None) -> tuple[str, ...]:
        """The registered names allowed for a run (all of them when ``allowed`` is ``None``)."""
        if allowed is None:
            return self.names
        return tuple(n for n in self._tools if n in allowed)

    def definitions(self, allowed: Collection[str] | None = None) -> list[dict[str, Any]]:
        """OpenAI function-tool definitions for the allowed tools (``tools=`` of an assistant)."""
        return [self._tools[n].definition() for n in self.allowed_names(allowed)]

    def response_definitions(self, allowed: Collection[str] | None = None) -> list[dict[str, Any]]:
        """The allowed tools in the Responses API's function-tool shape (``tools=`` of
        ``responses.create``: ``{"type": "function", "name", "description", "parameters",
        "strict"}``)."""
        return [self._tools[n].response_definition() for n in self.allowed_names(allowed)]

    def approval_needed(self, prepared: Prepared) -> bool:
        """Whether a prepared call needs the approval hook's yes before it runs: an MCP
        approval request always; a tool declared ``needs_approval`` (a predicate that raises
        counts as yes: fail closed)."""
        if prepared.call.kind == MCP_APPROVAL:
            return True
        spec = self._tools.get(prepared.call.name)
        rule = spec.needs_approval if spec is not None else False
        if not callable(rule):
            return bool(rule)
        try:
            return bool(rule(**prepared.kwargs))
        except Exception:
            return True

    # -- dispatch (pure) -----------------------------------------------------------------------

    def prepare(self, call: ToolCall, *, allowed: Collection[str] | None = None) -> Prepared:
        """Validate a call without running it.

        Args:
            call: the tool call from the server (name and arguments are untrusted).
            allowed: the tool names allowed for this run (default: every registered tool).

        Returns:
            A :class:`Prepared` with the function and validated arguments, or with an error
            output (unknown or disallowed name, invalid JSON, non-object, schema violation,
            extra field); an error output means the tool must not run.
        """
        if call.kind == MCP_APPROVAL:  # the server runs it; the client only decides
            return Prepared(call)
        names = self.allowed_names(allowed)
        spec = self._tools.get(call.name) if call.name in names else None
        if spec is None:
            shown = call.name[:64]
            return Prepared(
                call,
                error=self._error(
                    call.id,
                    ToolErrorKind.UNKNOWN_TOOL,
                    f"no tool named {shown!r} is available; use one of the allowed tools",
                    allowed=list(names),
                ),
            )
        try:
            parsed = json.loads(call.arguments) if call.arguments.strip() else None
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "too deeply nested"
            return Prepared(
                call,
                error=self._error(
                    call.id,
                    ToolErrorKind.INVALID_JSON,
                    f"arguments are not valid JSON: {msg}",
                    tool=spec.name,
                ),
            )
        if not isinstance(parsed, dict):
            return Prepared(
                call,
                error=self._error(
                    call.id,
                    ToolErrorKind.NOT_AN_OBJECT,
                    f"arguments must be a JSON object, got {type(parsed).__name__}",
                    tool=spec.name,
                ),
            )
        try:
            model = spec.arguments_model.model_validate_json(call.arguments, strict=True)
        except ValidationError as exc:
            problems = [
                {"loc": [str(p) for p in e["loc"]], "type": e["type"], "msg": e["msg"]}
                for e in exc.errors(include_url=False, include_input=False, include_context=False)
            ][:20]
            return Prepared(
                call,
                error=self._error(
                    call.id,
                    ToolErrorKind.INVALID_ARGUMENTS,
                    f"arguments do not match the schema of {spec.name!r}",
                    errors=problems,
                    tool=spec.name,
                ),
            )
        kwargs = {field: getattr(model, field) for field in type(model).model_fields}
        return Prepared(call, fn=spec.fn, kwargs=kwargs, is_async=spec.is_async)

    def finish(
        self,
        call: ToolCall,
        result: Any = None,
        *,
        error: BaseException | None = None,
        timed_out: bool = False,
    ) -> ToolOutput:
        """Turn a tool's result, exception or timeout into the output string to submit.

        Args:
            call: the call executed.
            result: the tool's return value (a ``str`` is used as is, anything else is JSON
                encoded).
            error: the exception the tool raised, if any (no traceback is ever included).
            timed_out: the tool did not finish within its budget.

        Returns:
            The output, capped at ``max_output_chars`` with the full text kept (both redacted
            when ``redact_outputs`` is set).
        """
        if timed_out:
            return self._error(
                call.id, ToolErrorKind.TOOL_TIMEOUT, "the tool did not finish within its budget"
            )
        if error is not None:
            extra: dict[str, Any] = {"exception": type(error).__name__}
            message = f"the tool raised {type(error).__name__}"
            if self.expose_exception_messages and str(error):
                message = redact_secrets(str(error))[:_MAX_MESSAGE]
            return self._error(call.id, ToolErrorKind.TOOL_ERROR, message, **extra)
        if isinstance(result, str):
            full = result
        else:
            try:
                full = pydantic_core.to_json(result).decode()
            except (pydantic_core.PydanticSerializationError, TypeError, ValueError):
                return self._error(
                    call.id,
                    ToolErrorKind.UNSERIALIZABLE_RESULT,
                    f"the tool returned a {type(result).__name__}, which is not JSON-encodable",
                )
        if self.redact_outputs:
            full = redact_secrets(full)
        capped, truncated = cap_output(full, self.max_output_chars)
        return ToolOutput(call.id, capped, full, truncated=truncated)

    def _error(self, call_id: str, kind: ToolErrorKind, message: str, **extra: Any) -> ToolOutput:
        return error_output(call_id, kind, message, self.max_output_chars, **extra)

    def __repr__(self) -> str:
        return f"<ToolRegistry tools={list(self._tools)}>"
