"""Gaps found by mutation testing in a run drawn over a table (issue 14; docs/mutation.md): the
counts of taken and inferred traversals per edge (``0`` for an edge not taken), the final state
given to ``run_path`` and its place among the visited states, the journal steps the table does
not have (listed up to ``NOTE_LIMIT``, then summarised with the right count), the overlay's title
keeping the table's, the Mermaid classes marking exactly the visited and final states, every
Mermaid note being closed, and the tolerated row of both legends shown only for a table with a
tolerated edge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import pytest

from lifecycle import LIFECYCLES, Driver, Edge, EdgeKind, LifecycleSpec
from lifecycle._diagram_overlay import NOTE_EXAMPLES, NOTE_LIMIT
from lifecycle.diagram import RunPath, run_path, to_dot, to_mermaid

RUN = LIFECYCLES["assistants-run"]


@dataclass(frozen=True)
class Step:
    source: str
    dest: str
    trigger: str
    inferred: bool = False


# two tool rounds: each time the poll missed ``queued -> in_progress`` (inferred)
TWO_ROUNDS = [
    Step("queued", "in_progress", "start", inferred=True),
    Step("in_progress", "requires_action", "require_action"),
    Step("requires_action", "queued", "submit_tool_outputs"),
    Step("queued", "in_progress", "start", inferred=True),
    Step("in_progress", "requires_action", "require_action"),
    Step("requires_action", "queued", "submit_tool_outputs"),
    Step("queued", "in_progress", "start"),
    Step("in_progress", "completed", "complete"),
]


def _edge(source: str, trigger: str) -> Edge:
    edge = RUN.edge(source, trigger)
    assert edge is not None
    return edge


def _two_rounds() -> RunPath:
    return run_path(RUN, TWO_ROUNDS, notes=["regression: observed 'queued' in completed"])


# -- the run's data model --------------------------------------------------------------------------


def test_each_edge_counts_its_traversals_and_the_inferred_ones() -> None:
    path = _two_rounds()
    start = _edge("queued", "start")
    assert (path.count(start), path.inferred_count(start)) == (3, 2)
    submit = _edge("requires_action", "submit_tool_outputs")
    assert (path.count(submit), path.inferred_count(submit)) == (2, 0)
    untaken = _edge("in_progress", "fail")
    assert path.count(untaken) == 0
    assert path.inferred_count(untaken) == 0
    assert isinstance(path.count(untaken), int)
    assert isinstance(path.inferred_count(untaken), int)
    assert "taken x3 (2 inferred)" in to_mermaid(RUN, path)


def test_a_final_state_given_is_the_final_state_and_is_visited() -> None:
    """``final`` overrides the journal's last state (a run cancelled before any step was seen)
    and joins the visited states; a final that is no state of the table is not visited."""
    path = run_path(RUN, [], final="cancelled")
    assert path.final == "cancelled"
    assert path.visited == {"queued", "cancelled"}
    assert run_path(RUN, TWO_ROUNDS, final="expired").final == "expired"
    assert "expired" in run_path(RUN, TWO_ROUNDS, final="expired").visited
    odd = run_path(RUN, [], final="archived")
    assert odd.final == "archived"
    assert odd.visited == {"queued"}


def _foreign(n: int) -> list[Step]:
    return [Step("queued", "completed", f"jump{i}") for i in range(n)]


def test_steps_not_in_the_table_are_listed_up_to_the_limit() -> None:
    notes = run_path(RUN, _foreign(NOTE_LIMIT)).notes
    assert notes == tuple(
        f"not in the table: queued -> completed (jump{i})" for i in range(NOTE_LIMIT)
    )


@pytest.mark.parametrize("n", [NOTE_LIMIT + 1, 1234])
def test_past_the_limit_the_steps_are_summarised_with_how_many_are_not_listed(n: int) -> None:
    notes = run_path(RUN, _foreign(n), notes=["an anomaly"]).notes
    examples = [f"not in the table: queued -> completed (jump{i})" for i in range(NOTE_EXAMPLES)]
    assert notes[0] == "an anomaly"
    assert notes[1] == f"{n:,} journal steps not in the table, e.g."
    assert list(notes[2:-1]) == examples
    (more,) = re.findall(r"^\.\.\. ([\d,]+) more not listed$", notes[-1])
    assert int(more.replace(",", "")) == n - NOTE_EXAMPLES
    assert len(notes) == 2 + NOTE_EXAMPLES + 1


# -- the renderers ---------------------------------------------------------------------------------


def test_the_overlays_title_keeps_the_tables() -> None:
    path = _two_rounds()
    title = RUN.title or RUN.name
    (graph,) = [ln for ln in to_dot(RUN, path).splitlines() if ln.startswith("    graph [")]
    label = re.search(r'label="([^"]*)"', graph)
    assert label is not None
    assert label.group(1).startswith(title)
    assert label.group(1) != title  # it says that a run is drawn
    (line,) = [ln for ln in to_mermaid(RUN, path).splitlines() if ln.startswith("title: ")]
    assert line.startswith(f'title: "{title}')
    assert line != f'title: "{title}"'


def _mermaid_class(text: str, cls: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.startswith("    class ") and ln.endswith(cls)]
    assert len(lines) <= 1
    return lines[0].split()[1].split(",") if lines else []


def test_mermaid_marks_exactly_the_visited_states_and_the_final_one() -> None:
    path = run_path(RUN, TWO_ROUNDS[:3])  # back in queued after the first submit
    text = to_mermaid(RUN, path)
    assert _mermaid_class(text, " final") == ["queued"]
    assert sorted(_mermaid_class(text, " visited")) == ["in_progress", "requires_action"]
    # the states the run never reached keep the table's classes
    assert "completed" in _mermaid_class(text, " terminal")
    assert _mermaid_class(to_mermaid(RUN), " visited") == []
    assert _mermaid_class(to_mermaid(RUN), " final") == []


def test_every_mermaid_note_is_closed() -> None:
    """The legend note and the anomalies note each end with ``end note`` before anything else
    (an unclosed note breaks the whole diagram)."""
    lines = to_mermaid(RUN, _two_rounds()).splitlines()
    marks = [ln for ln in lines if ln.startswith("    note ") or ln == "    end note"]
    assert [m.startswith("    note ") for m in marks] == [True, False, True, False]
    assert marks[2] == "    note right of completed"  # the anomalies, at the final state


class Door(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _door(kind: EdgeKind) -> LifecycleSpec[Door]:
    edge = Edge("D1", "open", "closed", "close", Driver.SERVER, kind, "test")
    return LifecycleSpec(
        name=f"door-{kind.value}",
        status_type=Door,
        initial=Door.OPEN,
        terminal=frozenset({Door.CLOSED}),
        edges=(edge,),
    )


@pytest.mark.parametrize("kind", list(EdgeKind))
def test_the_legends_show_the_tolerated_row_only_for_a_table_with_a_tolerated_edge(
    kind: EdgeKind,
) -> None:
    spec = _door(kind)
    tolerated = kind is EdgeKind.TOLERATED
    (legend,) = [ln for ln in to_dot(spec).splitlines() if ln.startswith("    legend [")]
    assert ("tolerated edge" in legend) is tolerated
    assert ("tolerated:" in to_mermaid(spec)) is tolerated
