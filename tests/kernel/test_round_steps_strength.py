"""Gaps found by mutation testing in the steps of a kernel tool round (issue 14;
docs/mutation.md): the tools' budget is cut to the run's expiry minus the margin (and a round
with no time left runs nothing), the effect log says how each call ended, the round's event names
the run, its number and its calls, a call refused by validation never counts as executed, a
refused submit re-reads the run while other statuses end the drive, and a lost submit is sent at
most ``max_attempts`` times."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lifecycle import CallState
from lifecycle.kernel import (
    EndingKind,
    Failure,
    FailureKind,
    Notice,
    RecordEffect,
    RetryPolicy,
    RoundFinished,
    RoundStarted,
    RunTools,
    ToolResult,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import RUN, START, Answer, Script, drive, http_error, ok, run, run_inline
from tests.kernel.test_rounds_strength import _step

ADD = ("call_1", "add", '{"a": 1, "b": 2}')
BOOM = ("call_2", "boom", "{}")
BAD = ("call_3", "add", '{"a": "one"}')
LOST = Failure(FailureKind.TIMEOUT, message="timed out")


def _budgets(script: Script) -> list[float]:
    return [r.timeout for r in script.log if isinstance(r, RunTools)]


def test_the_budget_is_the_tool_timeout_cut_to_the_expiry_minus_the_margin(
    calc_tools: CountingTools,
) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD], expires_at=START + 100.0),
        run("queued"),
        run("completed"),
    )
    script.play(drive(tools=calc_tools, tool_timeout_s=300.0, expiry_margin_s=15.0).attach())
    assert _budgets(script) == [85.0]
    roomy = Script().add(
        run("requires_action", calls=[ADD], expires_at=START + 1000.0),
        run("queued"),
        run("completed"),
    )
    roomy.play(drive(tools=calc_tools, tool_timeout_s=30.0).attach())
    assert _budgets(roomy) == [30.0]


def test_half_a_second_left_still_runs_the_tools(calc_tools: CountingTools) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD], expires_at=START + 15.5),
        run("queued"),
        run("completed"),
    )
    script.play(drive(tools=calc_tools, expiry_margin_s=15.0).attach())
    assert _budgets(script) == [0.5]
    assert calc_tools.runs["add"] == 1


def test_no_time_left_answers_every_call_with_a_timeout_without_running_it(
    calc_tools: CountingTools,
) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD], expires_at=START + 10.0),
        run("queued"),
        run("completed"),
    )
    result = script.play(drive(tools=calc_tools, durable=True, expiry_margin_s=15.0).attach())
    assert _budgets(script) == []
    assert calc_tools.runs["add"] == 0
    entry = result.ledger.entries["call_1"]
    assert (entry.executed, entry.error) == (False, "tool_timeout")
    assert [r for r in script.log if isinstance(r, RecordEffect)] == []
    submit = [c for c in script.calls() if c.op == "submit"]
    assert len(submit) == 1


def test_the_effect_log_says_how_each_call_ended(calc_tools: CountingTools) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD, BOOM, BAD]), run("queued"), run("completed")
    )
    result = script.play(drive(tools=calc_tools, durable=True).attach())
    effects = [
        (r.run_id, r.call_id, r.phase, r.detail) for r in script.log if isinstance(r, RecordEffect)
    ]
    assert effects == [
        (RUN, "call_1", "started", ""),
        (RUN, "call_2", "started", ""),
        (RUN, "call_1", "finished", "ok"),
        (RUN, "call_2", "finished", "error:tool_error"),
    ]
    bad = result.ledger.entries["call_3"]
    assert (bad.executed, bad.error, bad.state) == (False, "invalid_arguments", CallState.DELIVERED)


def test_a_timed_out_call_is_logged_timed_out(calc_tools: CountingTools) -> None:
    def late(request: RunTools) -> list[ToolResult]:
        call = request.items[0].call
        return [ToolResult(calc_tools.finish(call, timed_out=True), timed_out=True)]

    script = Script(tools=late).add(
        run("requires_action", calls=[ADD]), run("queued"), run("completed")
    )
    script.play(drive(tools=calc_tools, durable=True).attach())
    finished = [
        r.detail for r in script.log if isinstance(r, RecordEffect) and r.phase == "finished"
    ]
    assert finished == ["timed_out"]


def test_the_round_event_names_the_run_its_number_and_its_calls(calc_tools: CountingTools) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD]),
        run("queued"),
        run("requires_action", calls=[ADD, BOOM]),
        run("queued"),
        run("completed"),
    )
    script.play(drive(tools=calc_tools).attach())
    started = script.emitted(RoundStarted)
    assert [(e.run_id, e.round, [c.id for c in e.calls]) for e in started] == [
        (RUN, 1, ["call_1"]),
        (RUN, 2, ["call_1", "call_2"]),
    ]


def test_a_refused_submit_re_reads_the_run(calc_tools: CountingTools) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD]),
        http_error(400),
        run("completed"),
        ok({"object": "list", "data": [_step({"call_1": None})]}),
    )
    result = script.play(drive(tools=calc_tools).attach())
    assert script.ops()[:3] == ["retrieve", "submit", "retrieve"]
    assert result.ending.kind is EndingKind.TERMINAL
    notes = [n for n in script.emitted(Notice) if n.message == "submit refused; re-reading the run"]
    assert [n.level for n in notes] == [logging.WARNING]
    entry = result.ledger.entries["call_1"]
    assert (entry.state, entry.reason) == (CallState.EXECUTED_UNDELIVERED, "completed")


def test_a_submit_failing_otherwise_ends_the_drive(calc_tools: CountingTools) -> None:
    script = Script().add(run("requires_action", calls=[ADD]), http_error(401), run("completed"))
    result = script.play(drive(tools=calc_tools).attach())
    assert script.ops() == ["retrieve", "submit"]
    assert result.ending.kind is EndingKind.ABANDONED


def test_a_lost_submit_is_sent_at_most_max_attempts_times(calc_tools: CountingTools) -> None:
    """Each lost answer is reconciled (the run waits, its step has no output): sent again after
    a wait, ``max_attempts`` times in all, then the drive gives up."""
    waiting: list[Answer] = [
        run("requires_action", calls=[ADD]),
        ok({"object": "list", "data": [_step({"call_1": None})]}),
    ]
    script = Script().add(run("requires_action", calls=[ADD]), *([LOST, *waiting] * 4))
    result = script.play(drive(tools=calc_tools, retry=RetryPolicy(max_attempts=3)).attach())
    assert [c.op for c in script.calls()].count("submit") == 3
    assert calc_tools.runs["add"] == 1
    assert result.ending.kind is EndingKind.ABANDONED


def test_a_tool_not_allowed_for_the_run_never_runs(calc_tools: CountingTools) -> None:
    d = drive(tools=calc_tools)
    d.allowed_tools = ["boom"]
    script = Script().add(run("requires_action", calls=[ADD]), run("queued"), run("completed"))
    result = script.play(d.attach())
    assert calc_tools.runs["add"] == 0
    assert result.ledger.entries["call_1"].error == "unknown_tool"


def test_a_call_answered_before_does_not_stop_the_new_calls_after_it(
    calc_tools: CountingTools,
) -> None:
    """The round repeats call_1 (answered in round 1) before a new call: the new one runs."""
    second = ("call_4", "add", '{"a": 5, "b": 6}')
    script = Script().add(
        run("requires_action", calls=[ADD]),
        run("queued"),
        run("requires_action", calls=[ADD, second]),
        run("queued"),
        run("completed"),
    )
    result = script.play(drive(tools=calc_tools).attach())
    assert calc_tools.runs["add"] == 2
    assert result.ledger.entries["call_4"].output == "11"
    assert [e.round for e in result.ledger.entries.values()] == [1, 2]


def test_a_budget_of_exactly_zero_runs_nothing(calc_tools: CountingTools) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD], expires_at=START + 15.0),
        run("queued"),
        run("completed"),
    )
    script.play(drive(tools=calc_tools, expiry_margin_s=15.0).attach())
    assert _budgets(script) == []
    assert calc_tools.runs["add"] == 0


def test_the_round_finished_event_carries_the_rounds_records(calc_tools: CountingTools) -> None:
    script = Script().add(run("requires_action", calls=[ADD]), run("queued"), run("completed"))
    script.play(drive(tools=calc_tools).attach())
    (finished,) = script.emitted(RoundFinished)
    assert (finished.run_id, finished.round) == (RUN, 1)
    assert [(r.id, r.name, r.output) for r in finished.records] == [("call_1", "add", "3")]


def test_a_cancel_asked_during_the_round_leaves_its_outputs_undelivered(
    calc_tools: CountingTools,
) -> None:
    """The caller cancels while the tools run: nothing is submitted, the outputs are given up
    with the reason ``cancelled``, the run is cancelled."""

    @dataclass
    class Flag:
        cancelled: bool = False

    flag = Flag()

    def tools(request: RunTools) -> list[ToolResult]:
        flag.cancelled = True
        return run_inline(request)

    d = drive(tools=calc_tools)
    d.cancel_signal = flag
    script = Script(tools=tools).add(
        run("requires_action", calls=[ADD]), run("cancelling"), run("cancelled")
    )
    result = script.play(d.attach())
    assert "submit" not in script.ops()
    entry = result.ledger.entries["call_1"]
    assert (entry.state, entry.reason) == (CallState.EXECUTED_UNDELIVERED, "cancelled")
