"""Gaps found by mutation testing in the kernel's cancel (issue 14; docs/mutation.md): a cancel
whose answer is lost is read for before it is sent again, at most ``max_attempts`` times and with
a backoff between; a refused cancel re-reads the run; the cancel after an interruption is sent
once, only for a live run we have not cancelled yet, and its failure is logged, not raised."""

from __future__ import annotations

import logging

import pytest

from lifecycle.kernel import (
    ApiCall,
    Drive,
    EndingKind,
    Failure,
    FailureKind,
    Notice,
    RetryPolicy,
    Sleep,
)
from tests.kernel.script import Answer, Script, drive, http_error, run

LOST = Failure(FailureKind.TIMEOUT, message="timed out")


def _quick(attempts: int = 3) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_s=0.5, cap_s=0.5)


def _cancels(script: Script) -> list[ApiCall]:
    return [c for c in script.calls() if c.op == "cancel"]


def test_a_lost_cancel_answer_is_read_for_and_not_resent_when_the_run_shows_it() -> None:
    """The cancel's answer is lost, the read shows ``cancelling``: no second cancel."""
    script = Script().add(run("in_progress"), LOST, run("cancelling"), run("cancelled"))
    result = script.play(drive(retry=_quick()).cancel())
    assert script.ops() == ["retrieve", "cancel", "retrieve", "retrieve"]
    assert all(c.mutating for c in _cancels(script))
    assert result.ending.status == "cancelled"


def test_a_lost_cancel_the_run_does_not_show_is_sent_again_after_a_backoff() -> None:
    """Lost, and the run still runs: a backoff wait, then the cancel once more."""
    script = Script().add(
        run("in_progress"), LOST, run("in_progress"), run("cancelling"), run("cancelled")
    )
    result = script.play(drive(retry=_quick()).cancel())
    kinds = [k for k in script.kinds() if k != "Emit"]
    assert kinds[:6] == ["retrieve", "cancel", "retrieve", "Sleep", "cancel", "retrieve"]
    (wait,) = script.sleeps()[:1]
    assert 0.0 <= wait <= 0.5
    assert len(_cancels(script)) == 2
    assert result.ending.status == "cancelled"


def test_a_cancel_that_stays_lost_is_sent_max_attempts_times_then_abandoned() -> None:
    """Every answer lost and the run never shows the cancel: exactly ``max_attempts`` cancels,
    each after a read, a wait between two, then the drive is abandoned on the last failure."""
    lost_then_running: list[Answer] = [LOST, run("in_progress")]
    script = Script().add(run("in_progress"), *(lost_then_running * 5))
    result = script.play(drive(retry=_quick(3)).cancel())
    assert len(_cancels(script)) == 3
    assert script.ops() == ["retrieve", *(["cancel", "retrieve"] * 3)]
    assert len(script.sleeps()) == 2  # between the attempts, none after the last
    assert result.ending.kind is EndingKind.ABANDONED
    assert result.ending.detail == "timeout"
    assert result.ending.status == "in_progress"


def test_a_refused_cancel_re_reads_the_run_instead_of_failing() -> None:
    """A 400 to the cancel (the run ended meanwhile): one note, one read, no second cancel."""
    script = Script().add(run("in_progress"), http_error(400), run("completed"))
    result = script.play(drive().cancel())
    assert script.ops() == ["retrieve", "cancel", "retrieve"]
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "completed"
    notes = [n for n in script.emitted(Notice) if "cancel refused" in n.message]
    assert [n.level for n in notes] == [logging.INFO]


@pytest.mark.parametrize("status", [401, 403])
def test_a_cancel_failing_otherwise_is_not_taken_for_a_refusal(status: int) -> None:
    """Another status is not a refusal: no re-read, the drive is abandoned on it."""
    script = Script().add(run("in_progress"), http_error(status), run("completed"))
    result = script.play(drive().cancel())
    assert script.ops() == ["retrieve", "cancel"]
    assert result.ending.kind is EndingKind.ABANDONED
    assert result.ending.detail == f"http_{status}"


# -- after an interruption -------------------------------------------------------------------------


def _interrupt(d: Drive, *answers: object) -> None:
    """Drive ``d`` until its first wait, answering with ``answers``, then interrupt it there."""
    script = Script().add(*answers)  # type: ignore[arg-type]
    flow = d.attach()
    request = next(flow)
    while not isinstance(request, Sleep):
        request = flow.send(script.reply(request))
    flow.close()


def test_the_interruption_cancel_is_one_mutating_attempt_observed_as_ours() -> None:
    """One cancel, mutating, of this run; its answer journaled as our own move (via client)."""
    d = drive()
    _interrupt(d, run("in_progress"))
    after = Script().add(run("cancelling"))
    result = after.play(d.interrupted())
    (cancel,) = after.calls()
    assert cancel.mutating
    assert cancel.http.path.endswith("/runs/run_1/cancel")
    last = result.history[-1]
    assert (last.source, last.dest, last.via) == ("in_progress", "cancelling", "client")
    assert not last.external
    assert result.ending.kind is EndingKind.INTERRUPTED


def test_a_failed_interruption_cancel_is_logged_with_its_error() -> None:
    """The one cancel fails: a warning naming the error, and the drive still finishes."""
    d = drive()
    _interrupt(d, run("in_progress"))
    after = Script().add(http_error(503))
    result = after.play(d.interrupted())
    (note,) = [n for n in after.emitted(Notice) if "interruption" in n.message]
    assert (note.level, note.message) == (logging.WARNING, "cancel after interruption failed")
    assert "http_503" in str(note.fields["error"])
    assert result.ending.kind is EndingKind.INTERRUPTED


def test_no_interruption_cancel_for_an_ended_run() -> None:
    """The run already ended: nothing is sent."""
    d = drive()
    script = Script().add(run("completed"))
    script.play(d.attach())
    after = Script()
    result = after.play(d.interrupted())
    assert after.calls() == []
    assert result.ending.kind is EndingKind.INTERRUPTED


def test_no_second_cancel_after_an_interruption_when_one_was_sent() -> None:
    """A cancel already went out (a deadline's): the interruption sends none."""
    d = drive(deadlines={"in_progress": 1.0})
    script = Script().add(*([run("in_progress", poll_after_ms="400")] * 4), run("cancelling"))
    flow = d.attach()
    request = next(flow)
    sent = []
    while not (isinstance(request, Sleep) and d.cancel_requested):
        sent.append(request)
        request = flow.send(script.reply(request))
    flow.close()
    assert [r.op for r in sent if isinstance(r, ApiCall)][-1] == "cancel"
    after = Script()
    after.play(d.interrupted())
    assert after.calls() == []


def test_no_interruption_cancel_without_a_run() -> None:
    """Interrupted before the run existed (no run id): nothing to cancel."""
    d = drive(run_id="")
    after = Script()
    result = after.play(d.interrupted())
    assert after.calls() == []
    assert result.ending.kind is EndingKind.INTERRUPTED
