"""Gaps found by the mutation run of every module at e7a9d07 (issue 14; docs/mutation.md).

- The package's lazy exports: a lazy name is loaded by ``lifecycle.__getattr__`` and kept in the
  package, but mutmut forks every mutant from a process that already loaded them, so its mutants
  were never reached. Here the kept name is dropped first, so the loader runs again: it must give
  the defining module's object and keep that object (not ``None``).
- ``ToolRegistry.prepare``'s error outputs, which the model reads to correct its call: the unknown
  tool's name is echoed cut at 64 characters, a decoding error names the decoder's reason and a
  too deeply nested value says so (a ``RecursionError`` has no ``msg``), a non-object names the
  type it got, a schema error names the tool and lists at most 20 problems; every error output is
  for the call it was given.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

import pytest

import lifecycle
from lifecycle import ToolCall
from lifecycle._dispatch import ToolOutput
from lifecycle._tools import ToolRegistry  # not the lazy name: its loader is under test here

# -- lazy exports ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("ToolRegistry", "lifecycle._tools"),
        ("check_trace", "lifecycle._trace"),
        ("LifecycleSnapshot", "lifecycle._snapshot"),
        ("ToolLedger", "lifecycle._ledger"),
    ],
)
def test_a_lazy_name_is_loaded_again_once_dropped_and_kept(
    name: str, module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(vars(lifecycle), name, raising=False)
    expected = getattr(importlib.import_module(module), name)

    assert getattr(lifecycle, name) is expected
    assert vars(lifecycle)[name] is expected  # kept: the next look-up does not come back here
    assert getattr(lifecycle, name) is expected


# -- the registry's error outputs ------------------------------------------------------------------


def _registry() -> ToolRegistry:
    reg = ToolRegistry()

    @reg.tool
    def add(a: int, b: int) -> int:
        """Add two numbers.

        Args:
            a: the first.
            b: the second.
        """
        return a + b

    return reg


def _error(reg: ToolRegistry, call: ToolCall) -> dict[str, Any]:
    prepared = reg.prepare(call)
    assert prepared.call is call
    assert prepared.fn is None
    out = prepared.error
    assert isinstance(out, ToolOutput)
    assert out.tool_call_id == call.id
    body = json.loads(out.output)
    assert set(body) == {"error"}
    err: dict[str, Any] = body["error"]
    return err


def test_an_unknown_tools_name_is_echoed_cut_at_64_characters() -> None:
    name = "n" * 64 + "TAIL" * 10
    err = _error(_registry(), ToolCall("c1", name, "{}"))
    assert err["type"] == "unknown_tool"
    assert err["message"] == (
        f"no tool named {'n' * 64!r} is available; use one of the allowed tools"
    )


def test_a_short_unknown_name_is_echoed_whole() -> None:
    err = _error(_registry(), ToolCall("c2", "sub", "{}"))
    assert err["message"] == "no tool named 'sub' is available; use one of the allowed tools"
    assert err["allowed"] == ["add"]


@pytest.mark.parametrize("arguments", ['{"a": ', '{"a": 1,}', "{'a': 1}"])
def test_invalid_json_names_the_decoders_reason(arguments: str) -> None:
    with pytest.raises(json.JSONDecodeError) as raised:
        json.loads(arguments)
    err = _error(_registry(), ToolCall("c3", "add", arguments))
    assert err["type"] == "invalid_json"
    assert err["tool"] == "add"
    assert err["message"] == f"arguments are not valid JSON: {raised.value.msg}"


def test_too_deeply_nested_json_is_an_error_output_saying_so() -> None:
    arguments = "[" * 100_000
    with pytest.raises(RecursionError):
        json.loads(arguments)
    err = _error(_registry(), ToolCall("c4", "add", arguments))
    assert err["type"] == "invalid_json"
    assert err["message"] == "arguments are not valid JSON: too deeply nested"


@pytest.mark.parametrize(
    ("arguments", "got"), [("[1, 2]", "list"), ('"x"', "str"), ("3", "int"), ("", "NoneType")]
)
def test_a_non_object_names_the_type_it_got(arguments: str, got: str) -> None:
    err = _error(_registry(), ToolCall("c5", "add", arguments))
    assert err["type"] == "not_an_object"
    assert err["tool"] == "add"
    assert err["message"] == f"arguments must be a JSON object, got {got}"


def test_a_schema_error_names_the_tool() -> None:
    err = _error(_registry(), ToolCall("c6", "add", '{"a": "1", "b": 2}'))
    assert err["type"] == "invalid_arguments"
    assert err["message"] == "arguments do not match the schema of 'add'"
    assert [(e["loc"], e["type"]) for e in err["errors"]] == [(["a"], "int_type")]


@pytest.mark.parametrize("extra", [20, 21, 30])
def test_a_schema_error_lists_at_most_20_problems(extra: int) -> None:
    fields = {f"x{i:02d}": i for i in range(extra)}
    err = _error(_registry(), ToolCall("c7", "add", json.dumps({"a": 1, "b": 2, **fields})))
    assert err["type"] == "invalid_arguments"
    problems = err["errors"]
    assert len(problems) == 20
    assert all(p["type"] == "extra_forbidden" for p in problems)
    assert {p["loc"][0] for p in problems} <= set(fields)
