"""Gaps found by mutation testing in the kernel's log notes (issue 14; docs/mutation.md): the
notes an operator reads when a drive does not go as planned carry their level, their text and
the facts they name (the error, the deadline and state, the calls held, how the run finished)."""

from __future__ import annotations

import logging
from typing import Any

from lifecycle import ToolRegistry
from lifecycle.kernel import Notice, RetryPolicy, Sleep
from tests.kernel.script import Script, drive, http_error, ok, run


def _notes(script: Script, message: str) -> list[Notice]:
    return [n for n in script.emitted(Notice) if n.message == message]


def _one(script: Script, message: str) -> tuple[int, dict[str, Any]]:
    (note,) = _notes(script, message)
    fields = dict(note.fields)
    assert fields.pop("run_id") == "run_1"  # every note names its run
    return note.level, fields


def test_a_poll_failing_after_its_retries_is_a_warning_naming_the_error() -> None:
    script = Script().add(run("in_progress"), http_error(503), run("completed"))
    result = script.play(drive(retry=RetryPolicy(max_attempts=1)).attach())
    assert result.ending.status == "completed"
    level, fields = _one(script, "poll failed after its retries; polling on")
    assert level == logging.WARNING
    assert fields == {"error": "http_503"}


def test_a_poll_answered_with_garbage_is_a_warning_with_the_parse_message() -> None:
    script = Script().add(run("in_progress"), ok(b"<html>bad gateway</html>"), run("completed"))
    result = script.play(drive().attach())
    assert result.ending.status == "completed"
    level, fields = _one(script, "poll answered garbage; polling on")
    assert level == logging.WARNING
    assert isinstance(fields["error"], str)
    assert fields["error"]


def test_a_failed_poll_waits_on_the_grid_from_its_own_time() -> None:
    """The wait after a failed poll is the grid's from the failure's time, not from zero."""
    script = Script().add(run("in_progress"), http_error(503), run("completed"))
    script.play(drive(retry=RetryPolicy(max_attempts=1), poll_interval_s=1.0).attach())
    waits = [r.seconds for r in script.log if isinstance(r, Sleep)]
    assert waits[-1] <= 1.0


def test_a_deadline_is_a_warning_naming_it_and_the_state() -> None:
    script = Script().add(*([run("in_progress", poll_after_ms="400")] * 6), run("cancelling"))
    script.add(run("cancelled"))
    script.play(drive(deadlines={"in_progress": 1.0}).attach())
    level, fields = _one(script, "deadline passed")
    assert level == logging.WARNING
    assert fields == {"deadline": "in_progress", "state": "in_progress"}


def test_the_end_of_a_drive_is_an_info_note_with_the_status_and_the_ending() -> None:
    script = Script().add(run("completed"))
    result = script.play(drive().attach())
    level, fields = _one(script, "run finished")
    assert level == logging.INFO
    assert fields == {"status": "completed", "ending": str(result.ending)}


def test_calls_held_for_approval_are_a_warning_naming_them() -> None:
    tools = ToolRegistry()

    @tools.tool(needs_approval=True)
    def charge(cents: int) -> str:
        """Charge."""
        return "ok"

    script = Script().add(run("requires_action", calls=[("call_1", "charge", '{"cents": 1}')]))
    script.play(drive(tools=tools).attach())
    level, fields = _one(script, "waiting for approval")
    assert level == logging.WARNING
    assert list(fields["tool_call_ids"]) == ["call_1"]
