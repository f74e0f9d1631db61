"""Gaps found by mutation testing in the kernel's deadlines (issue 14; docs/mutation.md): the
status's own deadline bounds the drive only when it comes first (a tie names the status), a
cancel unconfirmed in time names the ``cancelling`` deadline, no request is sent at or after a
deadline (a wait that ends exactly on it, a request that returns exactly on it, a driver whose
sleeps round down), every wait between polls names the run so a webhook may end it (a wait cut
at a deadline too), a wait a webhook ended before the deadline polls ``via="webhook"`` and one
that ended on the deadline does not, and an ending reads the same in logs as in the docs."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle.kernel import ApiCall, Ending, EndingKind, Reply, Sleep
from tests.kernel.script import RUN, START, Script, drive, ok, run, run_body


class TimedScript(Script):
    """Records the script clock of every API call; its sleeps may end early.

    ``woken``: indexes (0-based) of the waits naming the run that a webhook ends, after
    ``woken_after`` of their length (1.0: on their last instant). ``short``: every sleep
    ends this many seconds early (a driver whose timer rounds down).
    """

    def __init__(
        self, *, woken: tuple[int, ...] = (), woken_after: float = 0.5, short: float = 0.0
    ) -> None:
        super().__init__()
        self.woken = woken
        self.woken_after = woken_after
        self.short = short
        self.call_times: list[float] = []
        self.waits = 0

    def reply(self, request: Any) -> Reply:
        if isinstance(request, ApiCall):
            self.call_times.append(self.now)
        if isinstance(request, Sleep) and request.wake_on:
            index, self.waits = self.waits, self.waits + 1
            if index in self.woken:
                self.now += request.seconds * self.woken_after
                return Reply(True, None, self.now, START + self.now)
        if isinstance(request, Sleep) and self.short:
            self.now += max(0.0, request.seconds - self.short)
            return Reply(None, None, self.now, START + self.now)
        return super().reply(request)


# -- which deadline bounds the drive -----------------------------------------------------------


def test_the_overall_deadline_bounds_a_status_whose_own_deadline_is_later() -> None:
    d = drive(overall_timeout_s=2.0, deadlines={"in_progress": 100.0}, cancel_on_timeout=False)
    script = Script().add(*([run("in_progress", poll_after_ms="500")] * 10))
    result = script.play(d.attach())
    assert (result.ending.kind, result.ending.deadline) == (EndingKind.DEADLINE, "overall")
    assert script.now == pytest.approx(2.0)


def test_a_status_deadline_that_falls_with_the_overall_one_is_named() -> None:
    """The two coincide: the ending names the status's own deadline, the more specific one."""
    d = drive(overall_timeout_s=2.0, deadlines={"in_progress": 2.0}, cancel_on_timeout=False)
    script = Script().add(*([run("in_progress", poll_after_ms="500")] * 10))
    result = script.play(d.attach())
    assert result.ending.deadline == "in_progress"


def test_a_cancel_that_is_never_confirmed_names_the_cancelling_deadline() -> None:
    d = drive(deadlines={"cancelling": 1.0})
    script = Script().add(
        run("in_progress"), ok(run_body("cancelling")), *([run("cancelling")] * 20)
    )
    result = script.play(d.cancel())
    assert result.ending.kind is EndingKind.CANCEL_UNCONFIRMED
    assert result.ending.deadline == "cancelling"
    assert str(result.ending) == "cancel_unconfirmed status=cancelling deadline=cancelling"


# -- nothing is sent at or past a deadline -----------------------------------------------------


def test_a_wait_that_ends_exactly_on_the_deadline_is_not_followed_by_a_poll() -> None:
    d = drive(overall_timeout_s=1.0, cancel_on_timeout=False)
    script = TimedScript().add(*([run("in_progress", poll_after_ms="500")] * 5))
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert script.call_times == [0.0, 0.5]  # the read, one poll; none at 1.0
    assert script.sleeps() == [0.5, 0.5]


def test_a_request_that_returns_on_the_deadline_is_followed_by_no_wait_and_no_request() -> None:
    def slow_poll(call: ApiCall) -> Any:
        script.now = 1.0  # the poll took the rest of the time
        return run("in_progress", poll_after_ms="500")

    d = drive(overall_timeout_s=1.0, cancel_on_timeout=False)
    script = TimedScript().add(run("in_progress", poll_after_ms="500"), slow_poll)
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert script.sleeps() == [0.5]  # no zero-second wait asked for
    assert script.call_times == [0.0, 0.5]


def test_a_wait_cut_at_the_deadline_ends_the_drive_even_if_the_timer_rounds_down() -> None:
    d = drive(overall_timeout_s=1.0, cancel_on_timeout=False)
    script = TimedScript(short=0.001).add(*([run("in_progress", poll_after_ms="800")] * 5))
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert script.ops() == ["retrieve", "retrieve"]
    assert script.now < 1.0  # the driver's clock; the drive did not wait for it to pass


# -- webhooks may end the waits between polls, never a deadline --------------------------------


def test_a_wait_cut_at_a_deadline_still_names_the_run() -> None:
    d = drive(overall_timeout_s=1.0, cancel_on_timeout=False)
    script = Script().add(*([run("in_progress", poll_after_ms="800")] * 5))
    script.play(d.attach())
    waits = [r for r in script.log if isinstance(r, Sleep)]
    assert [w.seconds for w in waits] == pytest.approx([0.8, 0.2])
    assert [w.wake_on for w in waits] == [RUN, RUN]


def test_a_webhook_that_ends_a_cut_wait_before_the_deadline_polls_via_webhook() -> None:
    d = drive(overall_timeout_s=1.0, cancel_on_timeout=False)
    script = TimedScript(woken=(1,), woken_after=0.5).add(
        run("in_progress", poll_after_ms="800"),
        run("in_progress", poll_after_ms="800"),
        run("completed"),
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.TERMINAL
    assert [(e.dest, e.via) for e in result.history][-1] == ("completed", "webhook")
    assert script.call_times == pytest.approx([0.0, 0.8, 0.9])


def test_a_webhook_on_the_deadline_itself_does_not_poll() -> None:
    d = drive(overall_timeout_s=1.0, cancel_on_timeout=False)
    script = TimedScript(woken=(1,), woken_after=1.0).add(
        run("in_progress", poll_after_ms="750"),
        run("in_progress", poll_after_ms="750"),
        run("completed"),
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert script.call_times == [0.0, 0.75]


# -- how an ending reads -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ending", "text"),
    [
        (Ending(EndingKind.TERMINAL, "completed", terminal=True), "terminal completed"),
        (
            Ending(EndingKind.DEADLINE, "cancelled", terminal=True, deadline="queued"),
            "deadline status=cancelled deadline=queued",
        ),
        (
            Ending(EndingKind.ABANDONED, "in_progress", detail="http_503"),
            "abandoned status=in_progress http_503",
        ),
        (Ending(EndingKind.NOT_CREATED), "not_created"),
        (
            Ending(EndingKind.TERMINAL, "failed", terminal=True, detail="off_table"),
            "terminal failed off_table",
        ),
    ],
)
def test_an_ending_reads_kind_status_deadline_detail(ending: Ending, text: str) -> None:
    assert str(ending) == text
