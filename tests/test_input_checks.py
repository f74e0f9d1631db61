"""Input the core and the controllers refuse or accept clearly (issue 13): traces with a BOM, a
huge status, a time that is not finite; hooks for a state that does not exist; a sync client
given to the async controller; and a diagram note that stays short for many anomalies."""

from __future__ import annotations

import openai
import pytest

from adapters.diagram_cli import load_run
from adapters.openai import AsyncRunController
from lifecycle import ASSISTANTS_RUN, LIFECYCLES, Hooks, RunLifecycle, check_trace, read_trace
from lifecycle._diagram_overlay import NOTE_EXAMPLES, NOTE_LIMIT, anomaly_notes, run_path
from lifecycle._trace import TraceError
from lifecycle.diagram import to_mermaid


def test_a_utf8_bom_is_not_part_of_the_first_status() -> None:
    observations = read_trace("\ufeffqueued\nin_progress\ncompleted\n")
    assert [o.status for o in observations] == ["queued", "in_progress", "completed"]
    assert check_trace(observations, ASSISTANTS_RUN).ok


def test_a_bom_before_a_json_line() -> None:
    (obs,) = read_trace('\ufeff{"status": "queued", "at": 1.5}\n')
    assert (obs.status, obs.at) == ("queued", 1.5)


@pytest.mark.parametrize("at", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_a_time_that_is_not_finite_is_refused(at: str) -> None:
    with pytest.raises(TraceError, match=r'line 2: "at" must be a finite number') as info:
        read_trace(f'{{"status": "queued", "at": 1}}\n{{"status": "completed", "at": {at}}}\n')
    assert info.value.line == 2


def test_a_huge_status_is_cut_in_the_report_and_says_so() -> None:
    status = "paused_" + "x" * 1_000_000
    report = check_trace(read_trace(f"queued\n{status}\n"), ASSISTANTS_RUN)
    (finding,) = report.anomalies
    assert finding.observed == status[:200] + "..."
    assert "1,000,007 characters" in finding.detail
    assert sum(len(line) for line in report.lines()) < 1_000


def test_a_status_of_exactly_the_shown_length_is_not_marked_cut() -> None:
    status = "y" * 200
    (finding,) = check_trace(read_trace(f"queued\n{status}\n"), ASSISTANTS_RUN).anomalies
    assert finding.observed == status


def test_on_enter_an_unknown_state_names_the_valid_ones() -> None:
    hooks = Hooks()
    with pytest.raises(ValueError, match="not_a_state") as info:
        hooks.on_enter("not_a_state")
    message = str(info.value)
    for state in ("queued", "requires_action", "completed", "cancelling"):
        assert state in message


def test_on_enter_checks_against_the_lifecycle_it_is_given() -> None:
    hooks = Hooks(LIFECYCLES["response"])
    seen: list[str] = []
    hooks.on_enter("completed")(lambda run, entry: seen.append(entry.dest))
    with pytest.raises(ValueError, match="requires_action"):  # not a state of responses
        hooks.on_enter("requires_action")
    run = RunLifecycle(LIFECYCLES["response"], hooks=hooks)
    run.observe("in_progress")
    run.observe("completed")
    assert seen == ["completed"]


def test_a_sync_client_given_to_the_async_controller_is_named() -> None:
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="sk-test")
    with pytest.raises(TypeError, match=r"needs an openai\.AsyncOpenAI client, not OpenAI"):
        AsyncRunController(client)  # type: ignore[arg-type]
    client.close()


# -- the diagram note --------------------------------------------------------------------------


def test_up_to_the_limit_every_anomaly_is_listed() -> None:
    run = RunLifecycle()
    run.observe("completed")
    for _ in range(NOTE_LIMIT):
        run.observe("in_progress")
    notes = anomaly_notes(run.anomalies)
    assert len(notes) == NOTE_LIMIT
    assert notes[0] == "after_terminal: observed 'in_progress' in completed"


def test_past_the_limit_anomalies_are_counted_per_kind_with_examples() -> None:
    lines = ["completed"] + ["in_progress", "paused", "failed"] * 10_000
    loaded = load_run("\n".join(lines) + "\n", ASSISTANTS_RUN)
    notes = loaded.path.notes
    assert notes[0] == (
        "30,000 anomalies: after_terminal x10,000, unknown_status x10,000, terminal_flip x10,000"
    )
    assert notes[1] == "e.g. line 2: after_terminal: observed 'in_progress' in completed"
    assert len(notes) == 1 + NOTE_EXAMPLES + 1
    assert notes[-1] == f"... {30_000 - NOTE_EXAMPLES:,} more not listed"
    mermaid = to_mermaid(ASSISTANTS_RUN, loaded.path)
    assert len(mermaid) < 5_000


def test_journal_steps_not_in_the_table_are_summarised_too() -> None:
    class Step:
        def __init__(self, i: int) -> None:
            self.source, self.dest, self.trigger, self.inferred = "queued", f"s{i}", "jump", False

    path = run_path(ASSISTANTS_RUN, [Step(i) for i in range(100)])
    assert path.notes[0] == "100 journal steps not in the table, e.g."
    assert len(path.notes) == 1 + NOTE_EXAMPLES + 1
