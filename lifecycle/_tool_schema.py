"""What a tool looks like to the model: its arguments model and JSON schema, read from Python.

Theory of operation
-------------------
A tool is described once, at registration, from the function itself: its signature and type
hints give a pydantic model of the keyword arguments (:func:`arguments_model`: ``extra="forbid"``,
``strict=True``, so nothing the model sends is coerced or repaired), and its Google-style
docstring gives the description (the text before the first section) and one description per
argument (the ``Args:`` entries, :func:`split_docstring`). A parameter that cannot be described
to a model (untyped, positional-only, ``*args``/``**kwargs``, a type pydantic cannot build a
schema for) is refused with :class:`~lifecycle.ToolDispatchError`.

The model's JSON schema becomes the tool's ``parameters`` (:func:`clean_schema`). It is marked
``"strict": true`` only where the API allows it (:func:`is_strict_schema`): every object requires
all its properties, forbids extra ones, and nothing has a default.
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PydanticUserError, create_model

from lifecycle.errors import ToolDispatchError

__all__ = ["arguments_model", "clean_schema", "is_strict_schema", "split_docstring"]

_SECTION_RE = re.compile(
    r"^(Args|Arguments|Parameters|Params|Returns|Return|Raises|Yields|Examples?|Notes?|"
    r"Attributes|See Also|Warnings?|Todo):\s*$"
)
_ARG_RE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


def split_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """Return the description (text before the first section) and the ``Args:`` entries."""
    if not doc:
        return "", {}
    lines = inspect.cleandoc(doc).splitlines()
    description: list[str] = []
    args: dict[str, str] = {}
    section: str | None = None
    current: str | None = None
    for line in lines:
        header = _SECTION_RE.match(line.strip()) if not line.startswith(" ") else None
        if header:
            section = header.group(1)
            current = None
            continue
        if section is None:
            description.append(line)
        elif section in ("Args", "Arguments", "Parameters", "Params") and line.strip():
            indent = len(line) - len(line.lstrip())
            m = _ARG_RE.match(line.strip())
            if m and indent <= 4:
                current = m.group(1).lstrip("*")
                args[current] = m.group(2).strip()
            elif current is not None:
                args[current] = f"{args[current]} {line.strip()}".strip()
    return "\n".join(description).strip(), args


def is_strict_schema(schema: Any) -> bool:
    """Whether every object in ``schema`` requires all its properties and forbids extras."""
    if isinstance(schema, dict):
        if schema.get("type") == "object" or "properties" in schema:
            props = schema.get("properties", {})
            if schema.get("additionalProperties") is not False:
                return False
            if set(schema.get("required", ())) != set(props):
                return False
        if "default" in schema:
            return False
        return all(is_strict_schema(v) for v in schema.values())
    if isinstance(schema, list):
        return all(is_strict_schema(v) for v in schema)
    return True


def described(fn: Callable[..., Any]) -> tuple[Callable[..., Any], str | None]:
    """What describes a tool: the function whose type hints and docstring name its parameters
    (a function itself, a ``functools.partial``'s function, a callable object's ``__call__``),
    and that docstring (for an object, its class's followed by its ``__call__``'s)."""
    if isinstance(fn, functools.partial):
        return described(fn.func)
    if inspect.isroutine(fn) or inspect.isclass(fn):
        return fn, fn.__doc__
    call = type(fn).__call__
    docs = [inspect.cleandoc(doc) for doc in (type(fn).__doc__, call.__doc__) if doc]
    return call, "\n\n".join(docs) or None


def arguments_model(fn: Callable[..., Any], name: str) -> type[BaseModel]:
    """Build the strict pydantic model of ``fn``'s keyword arguments (those a
    ``functools.partial`` binds are not the model's to send)."""
    target, doc = described(fn)
    bound = set(fn.keywords) if isinstance(fn, functools.partial) else set()
    try:
        sig = inspect.signature(fn)
        hints = typing.get_type_hints(target, include_extras=True)
    except (TypeError, ValueError, NameError) as exc:
        raise ToolDispatchError(f"tool {name!r}: cannot read the signature: {exc}") from exc
    _, arg_docs = split_docstring(doc)
    fields: dict[str, Any] = {}
    for p in sig.parameters.values():
        if p.name in bound:
            continue
        if p.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise ToolDispatchError(f"tool {name!r}: *args/**kwargs cannot be described to a model")
        if p.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise ToolDispatchError(f"tool {name!r}: positional-only parameter {p.name!r}")
        if p.name not in hints:
            raise ToolDispatchError(f"tool {name!r}: parameter {p.name!r} has no type annotation")
        default = ... if p.default is inspect.Parameter.empty else p.default
        fields[p.name] = (hints[p.name], Field(default, description=arg_docs.get(p.name)))
    config = ConfigDict(extra="forbid", strict=True)
    model_name = f"{name}_arguments"
    try:
        model: type[BaseModel] = create_model(model_name, __config__=config, **fields)
        model.model_json_schema()  # a type with no JSON schema cannot be described either
    except (TypeError, ValueError, PydanticUserError) as exc:  # pydantic refuses a parameter
        first = str(exc).strip().splitlines()[0]  # pydantic adds a line with a docs link
        raise ToolDispatchError(f"tool {name!r}: unsupported parameter type: {first}") from exc
    return model


def clean_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of an arguments model, as a tool's ``parameters`` (no title; an empty
    ``properties`` and ``required`` when the tool takes no arguments)."""
    schema = model.model_json_schema()
    schema.pop("title", None)
    schema.setdefault("properties", {})
    schema.setdefault("required", [])
    return schema
