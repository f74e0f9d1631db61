"""The simulator is an independent witness: it shares the core's words, never its table.

If the simulator moved runs along ``lifecycle.ASSISTANTS_RUN`` (or responses along
``lifecycle.RESPONSE``), a wrong table would pass every end-to-end test. These tests pin the
split: the status *vocabulary* the simulator states for itself (``_behaviour.py``,
``_responses_behaviour.py``) equals the core's enums, and no simulator module imports anything
table-shaped (or the enums) from ``lifecycle``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import adapters.simulator
from adapters.simulator import _behaviour, _responses_behaviour
from lifecycle import ResponseStatus, RunStatus, StepStatus

SIMULATOR_DIR = Path(adapters.simulator.__file__).parent

#: names the simulator must not take from the core: the tables, their views and types, the enums
FORBIDDEN_NAMES = frozenset(
    {
        "ASSISTANTS_RUN",
        "RUN_STEP",
        "RESPONSE",
        "LIFECYCLES",
        "LifecycleSpec",
        "Edge",
        "EdgeKind",
        "Driver",
        "ObservedPolicy",
        "RunLifecycle",
        "build_machine",
        "RunStatus",
        "StepStatus",
        "ResponseStatus",
        "GUARDS",
    }
)
#: core modules that hold the table, its checks or the enums
FORBIDDEN_MODULES = frozenset(
    {"lifecycle._table", "lifecycle._spec", "lifecycle._status", "lifecycle._checks"}
)


def _core_imports(source: str) -> Iterator[str]:
    """Every import of the core in ``source``, as ``module`` or ``module:name``, that the
    simulator must not have: a whole-module import (it reaches the table as an attribute), a
    forbidden module, or a forbidden name."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "lifecycle" or alias.name.startswith("lifecycle."):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            module = node.module
            if module != "lifecycle" and not module.startswith("lifecycle."):
                continue
            if module in FORBIDDEN_MODULES:
                yield module
                continue
            for alias in node.names:
                if alias.name in FORBIDDEN_NAMES or alias.name == "*":
                    yield f"{module}:{alias.name}"


def test_run_status_vocabulary_matches_the_core() -> None:
    """The simulator's run statuses are exactly the values of lifecycle.RunStatus (words only)."""
    assert {s.value for s in RunStatus} == set(_behaviour.RUN_STATUSES)


def test_step_status_vocabulary_matches_the_core() -> None:
    """The simulator's run step statuses are exactly the values of lifecycle.StepStatus."""
    assert {s.value for s in StepStatus} == set(_behaviour.STEP_STATUSES)


def test_response_status_vocabulary_matches_the_core() -> None:
    """The simulator's response statuses are exactly the values of lifecycle.ResponseStatus."""
    assert {s.value for s in ResponseStatus} == set(_responses_behaviour.RESPONSE_STATUSES)


def test_response_behaviour_sets_use_the_vocabulary() -> None:
    """Every status named by a response rule is a word of the response vocabulary."""
    words = _responses_behaviour.RESPONSE_STATUSES
    for rule in (
        _responses_behaviour.TERMINAL,
        _responses_behaviour.CANCELLABLE,
        _responses_behaviour.ENDS_STREAM,
    ):
        assert rule <= words
    assert set(_responses_behaviour.WEBHOOK_EVENTS) == _responses_behaviour.TERMINAL
    assert _responses_behaviour.CANCELLABLE.isdisjoint(_responses_behaviour.TERMINAL)


def test_behaviour_sets_use_the_vocabulary() -> None:
    """Every status named by a simulator rule is a word of its own vocabulary."""
    words = _behaviour.RUN_STATUSES
    for rule in (
        _behaviour.TERMINAL,
        _behaviour.ACCEPTS_OUTPUTS,
        _behaviour.CANCELLABLE,
        _behaviour.EXPIRES,
        _behaviour.ENDS_STREAM,
    ):
        assert rule <= words
    assert set(_behaviour.STEP_END.values()) <= _behaviour.STEP_STATUSES
    assert set(_behaviour.STEP_END) == _behaviour.TERMINAL


def _module_id(path: Path) -> str:
    return path.relative_to(SIMULATOR_DIR).as_posix()


@pytest.mark.parametrize("path", sorted(SIMULATOR_DIR.rglob("*.py")), ids=_module_id)
def test_simulator_imports_nothing_table_shaped_from_the_core(path: Path) -> None:
    """No simulator module imports the core's table, its views, its types or its enums."""
    assert list(_core_imports(path.read_text(encoding="utf-8"))) == []


def test_the_import_check_catches_table_imports() -> None:
    """The AST check is not vacuous: each way of reaching the table is reported."""
    source = "\n".join(
        [
            "import lifecycle",
            "import lifecycle._table as t",
            "from lifecycle import ASSISTANTS_RUN, ToolRegistry",
            "from lifecycle._spec import Edge",
            "from lifecycle import *",
            "def f():",
            "    from lifecycle import RunStatus",
            "from lifecycle.errors import LifecycleError",
        ]
    )
    assert list(_core_imports(source)) == [
        "lifecycle",
        "lifecycle._table",
        "lifecycle:ASSISTANTS_RUN",
        "lifecycle._spec",
        "lifecycle:*",
        "lifecycle:RunStatus",
    ]
