"""Gaps the third kernel mutation run left (issue 14; docs/mutation.md): a grid time reached
within a microsecond is behind the schedule; a drive without a store asks for no store write,
even when its create is refused; a late tool result is saved once, not on every loop; a refused
cancel (400) re-reads the run it was about, journaled as a poll."""

from __future__ import annotations

import pytest

from lifecycle import RunLifecycle, ToolCall, ToolLedger, ToolOutput
from lifecycle.kernel import (
    BeginCreate,
    BindCreate,
    CallFailed,
    CloseRun,
    ControllerConfig,
    EndingKind,
    RecordEffect,
    SaveRun,
)
from lifecycle.kernel._schedule import PollSchedule
from tests.kernel.script import RUN, Script, drive, http_error, ok, run

STORE_WRITES = (BeginCreate, BindCreate, CloseRun, RecordEffect, SaveRun)


def test_a_grid_time_reached_within_a_microsecond_is_behind_the_schedule() -> None:
    schedule = PollSchedule(ControllerConfig(poll_interval_s=1.0, first_poll_backoff_s=0.25))
    schedule.after_poll({}, 0.25 - 1e-6)  # at the 0.25 grid time, to a microsecond
    assert schedule.wait == pytest.approx(0.25 + 1e-6)  # the next one, 0.5


def test_a_drive_without_a_store_asks_for_no_store_write_even_when_its_create_fails() -> None:
    script = Script().add(http_error(400))
    with pytest.raises(CallFailed):
        script.play(drive(run_id="").create({"assistant_id": "asst_1"}, op_id="op_1"))
    assert [r for r in script.log if isinstance(r, STORE_WRITES)] == []


def test_a_late_tool_result_is_saved_once() -> None:
    call = ToolCall("call_1", "add", '{"a": 1, "b": 2}')
    ledger = ToolLedger()
    ledger.intend(call, round=1)
    assert ledger.claim(call.id)
    ledger.record(ToolOutput(call.id, "timed out", "timed out"), executed=True, timed_out=True)
    lc = RunLifecycle()
    lc.observe("in_progress")
    script = Script().add(*([run("in_progress")] * 5), run("completed"))
    script.late = [ToolOutput(call.id, "3", "3")]
    script.play(drive(durable=True).resume(lc, ledger))
    saves = [r for r in script.log if isinstance(r, SaveRun)]
    assert len(saves) == 3  # the late result, the move to completed, the end


def test_a_refused_cancel_re_reads_the_run_it_was_about() -> None:
    script = Script().add(run("in_progress"), http_error(400), run("completed"))
    result = script.play(drive().cancel())
    assert script.ops() == ["retrieve", "cancel", "retrieve"]
    assert script.calls()[-1].http.path.endswith(f"/runs/{RUN}")
    assert result.ending.kind is EndingKind.TERMINAL
    assert [(e.dest, e.via) for e in result.history][-1] == ("completed", "poll")


def test_a_cancel_answered_with_garbage_reads_the_run() -> None:
    """The cancel got in (2xx) but its body is not a run: the run is read, not assumed."""
    script = Script().add(
        run("in_progress"), ok(b"<html>proxy</html>"), run("cancelling"), run("cancelled")
    )
    result = script.play(drive().cancel())
    assert script.ops() == ["retrieve", "cancel", "retrieve", "retrieve"]
    assert [e.dest for e in result.history] == ["in_progress", "cancelling", "cancelled"]
    assert not result.cancel_lost_race


def test_a_create_retry_cut_by_the_deadline_raises_the_refusal_and_closes_the_intent() -> None:
    """A create refused with 429 asks to come back after the deadline: nothing is sent again,
    the refusal is raised for ``create`` and the intent is closed (no run exists)."""
    script = Script().add(http_error(429, **{"retry-after": "5"}))
    d = drive(run_id="", durable=True, overall_timeout_s=1.0)
    with pytest.raises(CallFailed) as raised:
        script.play(d.create({"assistant_id": "asst_1"}, op_id="op_1"))
    assert (raised.value.op, raised.value.failure.status) == ("create", 429)
    assert script.ops() == ["create"]
    assert [(r.op_id, r.run_id) for r in script.log if isinstance(r, BindCreate)] == [("op_1", "")]


def test_an_interrupted_drive_of_a_run_already_ended_closes_nothing() -> None:
    """Interrupted after the run was seen terminal: no cancel, and the run is not recorded as
    stopped (it ended on its own)."""
    lc = RunLifecycle()
    lc.observe("in_progress")
    lc.observe("completed")
    d = drive(durable=True)
    d.lc = lc
    script = Script()
    result = script.play(d.interrupted())
    assert result.ending.kind is EndingKind.INTERRUPTED
    assert result.ending.terminal
    assert script.ops() == []
    assert [r for r in script.log if isinstance(r, CloseRun)] == []
