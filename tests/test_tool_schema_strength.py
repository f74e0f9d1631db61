"""Gaps found by mutation testing in how a tool is described to the model (issue 14;
docs/mutation.md): where an ``Args:`` entry starts (indented up to four spaces; deeper lines
continue the entry before), an argument whose name starts with a capital ``X`` keeping its
description, a refused registration naming the tool and the parameter it is about, the arguments
model being strict on its own (``ToolSpec.arguments_model`` is public), and the schema given as
``parameters`` holding exactly pydantic's keys without the title."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from lifecycle import ToolDispatchError, ToolRegistry
from lifecycle._tool_schema import arguments_model, clean_schema, split_docstring

# -- docstrings ------------------------------------------------------------------------------------


def test_an_entry_is_indented_at_most_four_spaces_and_five_continue_the_one_before() -> None:
    """After ``inspect.cleandoc`` the entries sit four spaces in; a line five spaces in that looks
    like an entry (``see: ...``) is still part of the entry above it."""
    doc = "Fetch.\n\nArgs:\n    url: where from.\n     see: the manual.\n    retries: how often.\n"
    _, args = split_docstring(doc)
    assert args == {"url": "where from. see: the manual.", "retries": "how often."}


def test_an_argument_named_with_a_capital_x_keeps_its_name_and_description() -> None:
    """Only ``*`` is stripped from an entry's name, so ``X`` and ``Xs`` stay themselves."""
    _, args = split_docstring("Fit.\n\nArgs:\n    X: the samples.\n    Xy: the pairs.\n")
    assert args == {"X": "the samples.", "Xy": "the pairs."}

    def fit(X: int, Xy: int) -> int:
        """Fit.

        Args:
            X: the samples.
            Xy: the pairs.
        """
        return X + Xy

    registry = ToolRegistry()
    registry.register(fit)
    properties = registry.definitions()[0]["function"]["parameters"]["properties"]
    assert properties["X"]["description"] == "the samples."
    assert properties["Xy"]["description"] == "the pairs."


# -- refused registrations say what they are about -------------------------------------------------


def _variadic(*values: int) -> int:
    return 0


def _keywords(**values: int) -> int:
    return 0


def _positional(amount: int, /) -> int:
    return amount


def _untyped(amount, limit: int) -> int:  # type: ignore[no-untyped-def]
    return limit


def _unreadable(amount: Undefined) -> int:  # type: ignore[name-defined]  # noqa: F821
    return 0


def _clashing(model_dump: int) -> int:
    return model_dump


@pytest.mark.parametrize(
    ("fn", "words"),
    [
        (_variadic, ["'payments'", "*args/**kwargs"]),
        (_keywords, ["'payments'", "*args/**kwargs"]),
        (_positional, ["'payments'", "positional-only", "'amount'"]),
        (_untyped, ["'payments'", "'amount'", "no type annotation"]),
        (_unreadable, ["'payments'", "cannot read the signature", "Undefined"]),
        (_clashing, ["'payments'", "unsupported parameter type", "model_dump"]),
    ],
)
def test_a_refused_registration_names_the_tool_and_the_parameter(fn: Any, words: list[str]) -> None:
    """The error is what a developer fixes the tool from: it names the tool as registered, the
    parameter, and what is wrong with it."""
    with pytest.raises(ToolDispatchError) as info:
        ToolRegistry().register(fn, name="payments")
    message = str(info.value)
    for word in words:
        assert word in message


# -- the arguments model and its schema ------------------------------------------------------------


def test_the_arguments_model_is_strict_on_its_own() -> None:
    """The model in ``ToolSpec.arguments_model`` coerces nothing, whoever validates with it."""

    def add(a: int, flag: bool = False) -> int:
        """Add."""
        return a

    registry = ToolRegistry()
    registry.register(add)
    spec = registry.get("add")
    assert spec is not None
    model = spec.arguments_model
    assert model.model_validate({"a": 1, "flag": True}).model_dump() == {"a": 1, "flag": True}
    for coercible in ({"a": "1"}, {"a": 1.0}, {"a": 1, "flag": "yes"}, {"a": 1, "flag": 1}):
        with pytest.raises(ValidationError):
            model.model_validate(coercible)
    with pytest.raises(ValidationError):
        arguments_model(add, "add").model_validate({"a": "2"})


def _without_title(model: type[BaseModel]) -> dict[str, Any]:
    return {k: v for k, v in model.model_json_schema().items() if k != "title"}


def test_the_parameters_schema_is_pydantics_without_the_title_and_nothing_else() -> None:
    """``clean_schema`` removes the title and fills in what pydantic leaves out; it adds no
    other key (the schema is sent to the API as the tool's ``parameters``)."""

    def send(to: str, cc: str = "") -> str:
        """Send."""
        return to

    def ping() -> str:
        """Ping."""
        return "pong"

    with_args = arguments_model(send, "send")
    assert clean_schema(with_args) == _without_title(with_args)
    no_args = arguments_model(ping, "ping")
    assert clean_schema(no_args) == {**_without_title(no_args), "properties": {}, "required": []}
    for model in (with_args, no_args):
        assert all(isinstance(key, str) for key in clean_schema(model))
