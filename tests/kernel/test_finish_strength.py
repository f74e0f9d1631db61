"""Gaps found by mutation testing in how a kernel drive finishes (issue 14; docs/mutation.md):
the result names the run's scope and table and whether a cancel lost its race, a deadline that
cuts a cancel short ends ``cancel_unconfirmed`` (closing the run in the store), and a message
listing that fails is a warning, not a failure."""

from __future__ import annotations

import logging

from lifecycle.kernel import CloseRun, EndingKind, Notice, RetryPolicy
from tests.kernel.script import THREAD, Script, drive, http_error, ok, run, run_body


def test_the_result_names_the_scope_and_the_table() -> None:
    result = Script().add(run("completed")).play(drive().attach())
    assert (result.scope, result.lifecycle_name) == (THREAD, "assistants-run")
    assert not result.cancel_lost_race


def test_a_cancel_that_lost_the_race_is_reported() -> None:
    """Cancel asked, the run completed anyway: the race was lost; a cancelled run did not."""
    lost = Script().add(run("in_progress"), ok(run_body("completed")), run("completed"))
    assert lost.play(drive().cancel()).cancel_lost_race
    won = Script().add(run("in_progress"), ok(run_body("cancelling")), run("cancelled"))
    result = won.play(drive().cancel())
    assert not result.cancel_lost_race
    assert result.history[0].via == "poll"  # the read before the cancel is a poll


def test_a_deadline_that_cuts_a_cancel_short_ends_cancel_unconfirmed() -> None:
    d = drive(durable=True, deadlines={"cancelling": 1.0})
    script = Script().add(
        run("in_progress"), ok(run_body("cancelling")), *([run("cancelling")] * 20)
    )
    result = script.play(d.cancel())
    assert result.ending.kind is EndingKind.CANCEL_UNCONFIRMED
    assert [r.reason for r in script.log if isinstance(r, CloseRun)] == ["cancel_unconfirmed"]


def test_a_failed_message_listing_is_a_warning_and_the_outcome_stands() -> None:
    script = Script().add(run("completed"), http_error(500))
    result = script.play(drive(fetch_messages=True, retry=RetryPolicy(max_attempts=1)).attach())
    assert result.ending.status == "completed"
    (note,) = [n for n in script.emitted(Notice) if n.message == "could not list messages"]
    assert note.level == logging.WARNING
    assert "http_500" in str(note.fields["error"])
