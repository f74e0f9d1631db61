"""Gaps found by mutation testing in trace reading and checking (issue 14; docs/mutation.md):
every refused line names its number, ``via`` and ``at`` of a JSON line reach the journal, blank
and comment lines anywhere are skipped, and the report's summary says what it found."""

from __future__ import annotations

import pytest

from lifecycle import ASSISTANTS_RUN, check_trace, read_trace
from lifecycle._records import Via
from lifecycle._trace import TraceError

BAD_LINES = [
    ("{not json", "invalid JSON ("),
    ('{"status": ""}', 'a JSON line needs a non-empty string "status"'),
    ('{"status": 7}', 'a JSON line needs a non-empty string "status"'),
    ('{"status": "queued", "via": "carrier_pigeon"}', '"via" must be one of '),
    ('{"status": "queued", "at": "soon"}', '"at" must be a finite number of seconds'),
    ('{"status": "queued", "at": true}', '"at" must be a finite number of seconds'),
]


@pytest.mark.parametrize(("bad", "message"), BAD_LINES)
def test_a_bad_line_is_refused_with_its_number_and_what_is_wrong(bad: str, message: str) -> None:
    """``line N: <what>``; ``.line`` is N (blank and comment lines count)."""
    with pytest.raises(TraceError) as info:
        read_trace(f"queued\n\n# a comment\n{bad}\ncompleted\n")
    assert info.value.line == 4
    assert str(info.value).startswith(f"line 4: {message}")


def test_the_vias_a_json_line_may_name_are_listed_sorted() -> None:
    with pytest.raises(TraceError) as info:
        read_trace('{"status": "queued", "via": "x"}\n')
    listed = str(info.value).split("must be one of ")[1]
    assert listed == ", ".join(sorted(v.value for v in Via))


def test_an_empty_trace_has_no_line_number() -> None:
    """Nothing to read: line 0 and a message without a ``line`` prefix."""
    with pytest.raises(TraceError) as info:
        read_trace("\n# only a comment\n\n")
    assert info.value.line == 0
    assert str(info.value) == "the trace holds no observation"


def test_blank_and_comment_lines_between_observations_are_skipped() -> None:
    """Reading goes on past them, and line numbers stay those of the text."""
    observations = read_trace("queued\n\n# waiting\nin_progress\n\ncompleted\n")
    assert [(o.line, o.status) for o in observations] == [
        (1, "queued"),
        (4, "in_progress"),
        (6, "completed"),
    ]


def test_a_byte_order_mark_only_at_the_start_is_dropped() -> None:
    """A BOM is the first character or nothing: one elsewhere stays in the status."""
    (obs,) = read_trace("queued\ufeff\n")
    assert obs.status == "queued\ufeff"


def test_via_and_at_of_a_json_line_reach_the_journal() -> None:
    """A JSON line's ``via`` and ``at`` are the journal entry's; a plain line is a poll."""
    observations = read_trace(
        '{"status": "queued", "at": 1}\n'
        '{"status": "in_progress", "via": "stream", "at": 2.5}\n'
        "completed\n"
    )
    assert [(o.via, o.at) for o in observations] == [("poll", 1), ("stream", 2.5), ("poll", None)]
    report = check_trace(observations, ASSISTANTS_RUN)
    assert [(e.dest, e.via, e.at) for e in report.run.history] == [
        ("in_progress", "stream", 2.5),
        ("completed", "poll", None),
    ]


def test_a_status_just_over_the_shown_length_is_marked_cut_one_at_it_is_not() -> None:
    """201 characters: cut and said so; the status's length in the detail."""
    status = "z" * 201
    (finding,) = check_trace(read_trace(f"queued\n{status}\n"), ASSISTANTS_RUN).anomalies
    assert finding.observed == "z" * 200 + "..."
    assert finding.detail.endswith("; the status has 201 characters")
    assert len(finding.detail) > len("; the status has 201 characters")


def test_the_summary_line_says_ok_or_counts_the_anomalies() -> None:
    good = check_trace(read_trace("queued\ncompleted\n"), ASSISTANTS_RUN)
    assert good.lines()[-1].endswith(": ok")
    bad = check_trace(read_trace("completed\nin_progress\nqueued\n"), ASSISTANTS_RUN)
    assert bad.lines()[-1].endswith(": 2 anomalies")
    assert len(bad.lines()) == 3
