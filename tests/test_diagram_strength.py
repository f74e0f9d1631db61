"""Gaps found by mutation testing in the diagrams' text handling (issue 14; docs/mutation.md):
a DOT string escapes its backslashes and quotes (an unescaped one would end the string early and
break the file), its newlines become DOT line breaks, and journal text is reduced to a safe
character set, one ``?`` per character dropped, and cut at a bounded length; with a run drawn
over a table, the legend keeps the table's entries and adds the run's, a taken edge still names
its row, and the anomalies note keeps its stable id."""

from __future__ import annotations

import re

import pytest

from lifecycle import LIFECYCLES, RunLifecycle, ToolCall
from lifecycle._diagram_dot import _q
from lifecycle._diagram_style import safe_text
from lifecycle.diagram import RunPath, anomaly_note, run_path, to_dot

RUN = LIFECYCLES["assistants-run"]
TABLE_ENTRIES = [
    "server-driven edge",
    "client-driven edge (submit, cancel)",
    "tolerated edge (undocumented)",
    ">state<",
    "awaiting client",
    "terminal (double border)",
]
RUN_ENTRIES = [
    "taken by this run (xN: N times)",
    "inferred (a poll skipped it)",
    "visited by this run",
    "final state of this run",
]


def _path() -> RunPath:
    run = RunLifecycle()
    run.observe("requires_action", tool_calls=[ToolCall("c1", "f", "{}")])
    run.trigger("submit_tool_outputs", tool_call_ids=["c1"])
    run.observe("bogus")
    run.observe("completed")
    notes = [anomaly_note(a) for a in run.anomalies]
    return run_path(RUN, run.history, final="completed", notes=notes)


def _legend(text: str) -> str:
    (line,) = [ln for ln in text.splitlines() if ln.startswith("    legend [")]
    return line


def test_a_dot_string_escapes_backslashes_and_quotes() -> None:
    """``a"b\\c`` becomes ``"a\\"b\\\\c"``: the string stays one DOT string."""
    assert _q('a"b\\c') == '"a\\"b\\\\c"'
    assert _q("\\") == '"\\\\"'
    assert _q('"') == '"\\""'


@pytest.mark.parametrize(("left", "brk"), [(False, "\\n"), (True, "\\l")])
def test_dot_newlines_are_centred_or_left_justified_line_breaks(left: bool, brk: str) -> None:
    assert _q("one\ntwo\n", left=left) == f'"one{brk}two{brk}"'


def test_journal_text_keeps_safe_characters_and_marks_each_other_one() -> None:
    """Every character outside the safe set becomes exactly one ``?``; the rest is kept."""
    kept = "Run_1 at 2.5: queued=ok, (x+y)/z -> 'done'"
    assert safe_text(kept) == kept
    assert safe_text('a"b<c>{d}\n|') == "a?b?c>?d???"


def test_journal_text_is_cut_at_sixty_characters() -> None:
    """Up to 60 characters are kept whole; a longer note keeps 57 and ends with ``...``."""
    assert safe_text("x" * 60) == "x" * 60
    assert safe_text("x" * 61) == "x" * 57 + "..."
    assert len(safe_text("y" * 500)) == 60


def test_the_legend_of_a_run_keeps_the_tables_entries_and_adds_the_runs() -> None:
    plain = _legend(to_dot(RUN))
    over = _legend(to_dot(RUN, _path()))
    for entry in TABLE_ENTRIES:
        assert entry in plain
        assert entry in over
    for entry in RUN_ENTRIES:
        assert entry not in plain
        assert entry in over


def test_a_taken_edge_still_names_its_row_and_the_note_keeps_its_id() -> None:
    text = to_dot(RUN, _path())
    submit = next(e for e in RUN.edges if e.trigger == "submit_tool_outputs")
    edge_id = 'id="edge_requires_action__submit_tool_outputs"'
    line = next(ln for ln in text.splitlines() if edge_id in ln)
    label = re.search(r'label="([^"]*)"', line)
    assert label is not None
    assert label.group(1) == f"submit_tool_outputs\\n{submit.ref}\\ntaken"
    assert '    anomalies [id="anomalies", ' in text
