"""Gaps found by mutation testing in the table checks (issue 14; docs/mutation.md): every
structural rule of ``check_table`` is exercised on plain data, and the error names the lifecycle,
the rule and exactly the offending states (tests/test_table.py covers the rules a real table
spec can break; these are the ones it could not reach)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lifecycle import DefinitionError
from lifecycle._checks import check_table

Edges = Sequence[tuple[str, str, str]]

STATES = ("new", "busy", "done", "lost")
TERMINAL = ("done", "lost")
EDGES: Edges = (("new", "start", "busy"), ("busy", "finish", "done"), ("busy", "drop", "lost"))


def _problem(
    *,
    states: Sequence[str] = STATES,
    initial: str = "new",
    terminal: Sequence[str] = TERMINAL,
    edges: Edges = EDGES,
) -> DefinitionError:
    with pytest.raises(DefinitionError) as info:
        check_table("toy", states=states, initial=initial, terminal=terminal, edges=edges)
    return info.value


def test_the_toy_table_is_valid() -> None:
    """The table the cases below break passes every check."""
    check_table("toy", states=STATES, initial="new", terminal=TERMINAL, edges=EDGES)


@pytest.mark.parametrize(
    ("broken", "problem", "states"),
    [
        ({"states": (*STATES, "busy")}, "duplicate_state", ("busy",)),
        ({"states": (*STATES, "busy", "busy", "done")}, "duplicate_state", ("busy", "done")),
        ({"initial": "nowhere"}, "initial", ("nowhere",)),
        ({"terminal": (*TERMINAL, "gone")}, "unknown_state", ("gone",)),
        ({"edges": (*EDGES, ("busy", "jump", "limbo"))}, "unknown_state", ("limbo",)),
        (
            {"terminal": ("done", "ghost"), "edges": (*EDGES, ("elsewhere", "go", "done"))},
            "unknown_state",
            ("elsewhere", "ghost"),
        ),
        ({"initial": "done"}, "initial", ("done",)),
        ({"edges": (*EDGES, ("done", "reopen", "busy"))}, "terminal_has_edges", ("done",)),
        (
            {"edges": (*EDGES, ("busy", "finish", "lost"), ("new", "start", "done"))},
            "duplicate_trigger",
            ("busy", "new"),
        ),
        ({"edges": EDGES[:2]}, "unreachable", ("lost",)),
        ({"terminal": ()}, "no_terminal", ("new",)),
        ({"terminal": ("done",)}, "trap", ("lost",)),
    ],
)
def test_each_rule_names_the_lifecycle_the_rule_and_exactly_its_states(
    broken: dict[str, object], problem: str, states: tuple[str, ...]
) -> None:
    """The first rule broken raises, carrying the lifecycle's name, the rule and the states."""
    error = _problem(**broken)  # type: ignore[arg-type]
    assert (error.lifecycle, error.problem, error.states) == ("toy", problem, states)
    message = str(error)
    assert message.startswith("lifecycle 'toy': ")
    assert message.endswith(f"(states: {', '.join(states)})")
    detail = message.removeprefix("lifecycle 'toy': ").split(" (states: ")[0]
    assert detail.strip()
    assert detail != "None"


def test_a_duplicate_trigger_names_the_triggers_shared() -> None:
    """Only the (source, trigger) pairs used twice are named, sorted."""
    error = _problem(edges=(*EDGES, ("busy", "finish", "lost"), ("new", "start", "done")))
    assert "trigger(s) finish, start" in str(error)
    error = _problem(edges=(*EDGES, ("busy", "finish", "lost")))
    assert str(error).split("trigger(s) ")[1].startswith("finish (")


def test_a_state_listed_once_is_no_duplicate_and_a_trap_needs_no_terminal_path() -> None:
    """A state reaching a terminal only through others is not trapped; a cycle without an exit
    is, every state of it."""
    check_table(
        "toy",
        states=(*STATES, "wait"),
        initial="new",
        terminal=TERMINAL,
        edges=(*EDGES, ("busy", "pause", "wait"), ("wait", "resume", "busy")),
    )
    error = _problem(
        states=(*STATES, "wait", "loop"),
        edges=(
            *EDGES,
            ("busy", "pause", "wait"),
            ("wait", "spin", "loop"),
            ("loop", "back", "wait"),
        ),
    )
    assert (error.problem, error.states) == ("trap", ("loop", "wait"))
