"""Gaps found by mutation testing in the tool registry and tool schemas (issue 14;
docs/mutation.md): docstring sections and argument entries, the schema's defaults and its
strictness, the registry's lookups, and the error outputs of a timeout, an unencodable result and
an exception with an empty message."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable
from typing import Annotated, Any, Union

import pytest
from pydantic import Field

from lifecycle import ToolCall, ToolRegistry
from lifecycle._dispatch import Prepared
from lifecycle._tool_schema import clean_schema, is_strict_schema, split_docstring
from lifecycle.errors import ToolDispatchError

# -- docstrings ------------------------------------------------------------------------------------


@pytest.mark.parametrize("section", ["Args", "Arguments", "Parameters", "Params"])
def test_every_argument_section_name_is_read(section: str) -> None:
    doc = f"""Add two numbers.

    {section}:
        a: the first one.
        b (int): the second one,
            continued here.
    """
    description, args = split_docstring(doc)
    assert description == "Add two numbers."
    assert args == {"a": "the first one.", "b": "the second one, continued here."}


def test_star_names_are_stripped_and_deeper_lines_continue_the_entry() -> None:
    """``*args`` is ``args``; a line indented past the entries continues the one before it,
    even when it looks like an entry itself."""
    doc = """Do it.

    Args:
        *items: what to do.
            note: this is still about items.
        **options: how.
    Returns:
        x: not an argument.
    """
    _, args = split_docstring(doc)
    assert args == {"items": "what to do. note: this is still about items.", "options": "how."}


def test_an_indented_header_word_is_not_a_section_and_no_docstring_is_empty() -> None:
    """Only an unindented ``Args:`` opens a section; nothing before a section is lost."""
    doc = "Summary.\n\nUsage notes:\n    Args:\n    a: text\n"
    description, args = split_docstring(doc)
    assert args == {}
    assert "Args:" in description
    assert split_docstring(None) == ("", {})
    assert split_docstring("") == ("", {})


def test_text_in_a_section_before_any_entry_is_not_an_argument() -> None:
    """A sentence opening the Args section is not glued to an argument."""
    _, args = split_docstring("S.\n\nArgs:\n    (see below)\n    a: first.\n")
    assert args == {"a": "first."}


# -- schemas ---------------------------------------------------------------------------------------


def test_a_tool_without_arguments_has_empty_properties_and_required_and_no_title() -> None:
    registry = ToolRegistry()

    @registry.tool
    def ping() -> str:
        """Ping."""
        return "pong"

    parameters = registry.definitions()[0]["function"]["parameters"]
    assert parameters["properties"] == {}
    assert parameters["required"] == []
    assert "title" not in parameters


def test_clean_schema_drops_the_title_and_keeps_what_is_there() -> None:
    registry = ToolRegistry()

    @registry.tool
    def add(a: int, b: int = 2) -> int:
        """Add."""
        return a + b

    spec = registry.get("add")
    assert spec is not None
    schema = clean_schema(spec.arguments_model)
    assert "title" not in schema
    assert set(schema["properties"]) == {"a", "b"}
    assert schema["required"] == ["a"]


@pytest.mark.parametrize(
    ("schema", "strict"),
    [
        ({"type": "object", "properties": {}, "required": [], "additionalProperties": False}, True),
        ({"type": "object", "properties": {}, "required": []}, False),
        ({"properties": {"a": {}}, "required": ["a"], "additionalProperties": False}, True),
        ({"properties": {"a": {}}, "required": [], "additionalProperties": False}, False),
        ({"type": "object", "required": [], "additionalProperties": False}, True),
        ({"type": "object", "additionalProperties": False}, True),
        ({"type": "object", "required": ["a"], "additionalProperties": False}, False),
        ({"anyOf": [{"type": "object", "properties": {}, "required": []}]}, False),
        ({"anyOf": [{"type": "integer"}, {"type": "string"}]}, True),
        ({"type": "integer", "default": 1}, False),
    ],
)
def test_strictness_is_checked_on_every_object_at_any_depth(
    schema: dict[str, Any], strict: bool
) -> None:
    assert is_strict_schema(schema) is strict


# -- the registry ----------------------------------------------------------------------------------


def _registry() -> ToolRegistry:
    registry = ToolRegistry(max_output_chars=256)

    @registry.tool
    def add(a: int, b: int) -> int:
        """Add."""
        return a + b

    @registry.tool(needs_approval=True)
    def wire(amount: int) -> str:
        """Wire money."""
        return "sent"

    return registry


def test_lookups_name_exactly_the_registered_tools() -> None:
    registry = _registry()
    assert "add" in registry
    assert "nope" not in registry
    assert registry.get("nope") is None
    assert registry.get("add") is not None
    assert repr(registry) == "<ToolRegistry tools=['add', 'wire']>"
    with pytest.raises(ValueError, match="at least 256"):
        ToolRegistry(max_output_chars=255)


def test_response_definitions_are_the_responses_shape_for_the_allowed_tools() -> None:
    registry = _registry()
    (only,) = registry.response_definitions(allowed=["wire"])
    function = registry.definitions(allowed=["wire"])[0]["function"]
    assert only == {"type": "function", **function}
    assert only["name"] == "wire"
    assert [d["name"] for d in registry.response_definitions()] == ["add", "wire"]


def test_an_unregistered_name_needs_no_approval() -> None:
    """Approval follows the tool's declaration; a call of no registered tool is refused by
    prepare() instead, and needs no approval."""
    registry = _registry()
    assert registry.approval_needed(Prepared(ToolCall("c1", "wire", '{"amount": 1}')))
    assert not registry.approval_needed(Prepared(ToolCall("c2", "nope", "{}")))
    assert not registry.approval_needed(Prepared(ToolCall("c3", "add", "{}")))


def _error(out_text: str) -> dict[str, Any]:
    error: dict[str, Any] = json.loads(out_text)["error"]
    return error


def test_a_timeout_answers_this_call_with_a_tool_timeout_that_says_so() -> None:
    out = _registry().finish(ToolCall("c9", "add", "{}"), timed_out=True)
    assert (out.tool_call_id, out.error) == ("c9", "tool_timeout")
    assert _error(out.output)["message"] == "the tool did not finish within its budget"


def test_an_unencodable_result_names_its_type_for_this_call() -> None:
    out = _registry().finish(ToolCall("c9", "add", "{}"), object())
    assert (out.tool_call_id, out.error) == ("c9", "unserializable_result")
    assert _error(out.output)["message"] == (
        "the tool returned a object, which is not JSON-encodable"
    )


def test_an_exception_with_an_empty_message_is_named_by_its_type_even_when_exposed() -> None:
    registry = ToolRegistry(expose_exception_messages=True)
    empty = registry.finish(ToolCall("c1", "f", "{}"), error=KeyError())
    assert _error(empty.output)["message"] == "the tool raised KeyError"
    told = registry.finish(ToolCall("c1", "f", "{}"), error=ValueError("bad input"))
    assert _error(told.output)["message"] == "bad input"


def test_a_tool_needs_no_approval_unless_declared_and_is_named_after_its_function() -> None:
    registry = ToolRegistry()

    @registry.tool
    def lookup(key: str) -> str:
        """Look up."""
        return key

    assert registry.names == ("lookup",)
    spec = registry.get("lookup")
    assert spec is not None
    assert spec.needs_approval is False


def test_schema_errors_shown_to_the_model_carry_no_documentation_urls() -> None:
    out = _registry().prepare(ToolCall("c1", "add", '{"a": "one", "b": 2}')).error
    assert out is not None
    assert out.error == "invalid_arguments"
    assert "http" not in out.output
    assert "url" not in json.loads(out.output)["error"]["errors"][0]


def test_annotated_constraints_of_a_parameter_are_enforced() -> None:
    """``Annotated[int, Field(gt=0)]``: the constraint is part of the arguments model."""
    registry = ToolRegistry()

    @registry.tool
    def take(count: Annotated[int, Field(gt=0)]) -> int:
        """Take some."""
        return count

    assert registry.prepare(ToolCall("c1", "take", '{"count": 2}')).error is None
    refused = registry.prepare(ToolCall("c2", "take", '{"count": 0}')).error
    assert refused is not None
    assert refused.error == "invalid_arguments"
    schema = registry.definitions()[0]["function"]["parameters"]
    assert schema["properties"]["count"]["exclusiveMinimum"] == 0


def test_a_callable_without_a_name_is_refused_with_the_empty_name() -> None:
    """A callable object has no ``__name__``: registered without ``name=`` it is refused for
    the empty name it would get, never registered under a made-up one."""

    class Adder:
        def __call__(self, a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

    registry = ToolRegistry()
    with pytest.raises(ToolDispatchError, match=r"^invalid tool name ''"):
        registry.register(Adder())
    assert registry.names == ()


class _Opaque:
    """A class pydantic cannot build a schema for."""


def _opaque(x: _Opaque) -> int:
    return 1


def _bare_union(x: Union) -> int:  # type: ignore[type-arg]
    return 1


def _underscored(_x: int) -> int:
    return 1


def _callable(x: Callable[[], int]) -> int:
    return 1


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_opaque, ["'_opaque'", "_Opaque"]),
        (_bare_union, ["'_bare_union'", "Union"]),
        (_underscored, ["'_underscored'", "underscore"]),
        (_callable, ["'_callable'", "JsonSchema"]),
    ],
)
def test_a_parameter_pydantic_cannot_describe_is_refused_in_one_line(
    fn: Any, words: list[str]
) -> None:
    """pydantic's own errors (no schema for a type, a field name it refuses, a type with no
    JSON schema) are a ToolDispatchError naming the tool, in one line: nothing is registered."""
    registry = ToolRegistry()
    with pytest.raises(ToolDispatchError) as raised:
        registry.register(fn)
    text = str(raised.value)
    assert "\n" not in text
    for word in words:
        assert word in text
    assert registry.names == ()


def test_the_output_cap_is_fixed_at_construction() -> None:
    """The cap is checked once, when the registry is made: it cannot be lowered afterwards
    under the room its truncation marker needs."""
    registry = ToolRegistry(max_output_chars=300)
    assert registry.max_output_chars == 300
    with pytest.raises(AttributeError):
        registry.max_output_chars = 10  # type: ignore[misc]
    with pytest.raises(ValueError, match="at least 256"):
        ToolRegistry(max_output_chars=255)


class _Lookup:
    """Look an order up (a tool with state: its own table)."""

    def __init__(self) -> None:
        self.orders = {"o1": 135.0}

    def __call__(self, order_id: str) -> float:
        """Args:
        order_id: the order's id.
        """
        return self.orders[order_id]


class _AsyncLookup(_Lookup):
    async def __call__(self, order_id: str) -> float:  # type: ignore[override]
        return self.orders[order_id]


def _price(items: int, unit: float) -> float:
    """Price some items.

    Args:
        items: how many.
        unit: the price of one.
    """
    return items * unit


def test_a_callable_object_or_a_partial_is_a_tool_when_named() -> None:
    """A tool with state (an object with ``__call__``, sync or async) or a function with some
    arguments bound (``functools.partial``) is described from what it takes, and runs."""
    registry = ToolRegistry()
    lookup = registry.register(_Lookup(), name="lookup")
    assert lookup.parameters["properties"]["order_id"]["type"] == "string"
    assert lookup.parameters["properties"]["order_id"]["description"] == "the order's id."
    assert lookup.description == "Look an order up (a tool with state: its own table)."
    assert not lookup.is_async
    assert registry.register(_AsyncLookup(), name="lookup_async").is_async
    priced = registry.register(functools.partial(_price, unit=2.5), name="price")
    assert list(priced.parameters["properties"]) == ["items"]
    assert priced.description == "Price some items."
    prepared = registry.prepare(ToolCall("c1", "price", '{"items": 4}'))
    assert prepared.error is None
    assert prepared.call_tool() == 10.0
    found = registry.prepare(ToolCall("c2", "lookup", '{"order_id": "o1"}'))
    assert found.call_tool() == 135.0


def test_a_partial_hides_every_argument_it_binds_wherever_it_stands() -> None:
    registry = ToolRegistry()
    spec = registry.register(functools.partial(_price, items=4), name="price_four")
    assert list(spec.parameters["properties"]) == ["unit"]
    assert spec.parameters["properties"]["unit"]["description"] == "the price of one."


def test_a_tool_name_registered_twice_is_refused_by_name() -> None:
    registry = ToolRegistry()
    registry.register(_price, name="price")
    with pytest.raises(ToolDispatchError, match=r"^tool 'price' is already registered$"):
        registry.register(_price, name="price")


def test_a_dataclass_registers_with_its_fields_as_parameters() -> None:
    """A class is described by its own signature and hints (a dataclass: its fields), not as a
    callable object."""

    @dataclasses.dataclass
    class Order:
        """An order to record."""

        item: str
        quantity: int = 1

    spec = ToolRegistry().register(Order, name="record_order")
    assert list(spec.parameters["properties"]) == ["item", "quantity"]
    assert spec.description == "An order to record."
