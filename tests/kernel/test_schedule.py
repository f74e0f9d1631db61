"""When the kernel polls: at once after our own requests, server hints clamped, a growing backoff
without hints, a 429's retry-after honoured, and no wait ever past a deadline."""

from __future__ import annotations

import random

import pytest

from lifecycle.kernel import ControllerConfig, EndingKind, Request, RetryPolicy
from lifecycle.kernel._schedule import PollSchedule, header_seconds
from tests.kernel.script import Script, drive, http_error, run


def test_the_first_poll_after_create_comes_at_once_without_a_header() -> None:
    """A create answered without ``openai-poll-after-ms``: the run is read right away (the SDK's
    own loop does the same), not after the configured interval."""
    d = drive(run_id="")
    script = Script().add(run("queued"), run("in_progress"), run("completed"))
    result = script.play(d.create({"assistant_id": "asst_1"}))
    assert result.ending.kind is EndingKind.TERMINAL
    kinds = [k for k in script.kinds() if k in ("create", "retrieve", "Sleep")]
    assert kinds[:2] == ["create", "retrieve"]  # no Sleep in between


def test_the_first_poll_after_submit_comes_at_once_without_a_header(calc_tools: object) -> None:
    """A submit answered without a header: the run is read right away."""
    d = drive(tools=calc_tools)  # type: ignore[arg-type]
    script = Script().add(
        run("requires_action", calls=[("call_1", "add", '{"a": 1, "b": 2}')]),
        run("queued"),
        run("completed"),
    )
    script.play(d.attach())
    kinds = [k for k in script.kinds() if k in ("submit", "retrieve", "Sleep")]
    assert kinds[kinds.index("submit") + 1] == "retrieve"


def test_a_header_on_our_own_request_is_honoured() -> None:
    """A create answered with a 300 ms hint waits 300 ms before the first poll."""
    d = drive(run_id="")
    script = Script().add(run("queued", poll_after_ms="300"), run("completed"))
    script.play(d.create({"assistant_id": "asst_1"}))
    assert script.sleeps()[0] == pytest.approx(0.3)


def test_without_headers_polls_fall_on_a_grid_that_holds_every_interval() -> None:
    """No header anywhere: after the first read at once, b, 2b, 4b... below the interval, then
    every interval; a status change a poll sees does not restart it (so every poll time of a
    client polling each interval is on the grid: the drive never sees an end later)."""
    d = drive(poll_interval_s=0.4, first_poll_backoff_s=0.05)
    answers = [run("queued")] * 6 + [run("in_progress")] * 3 + [run("completed")]
    script = Script().add(*answers)
    script.play(d.attach())
    assert script.sleeps() == pytest.approx([0.05, 0.05, 0.1, 0.2, 0.4, 0.4, 0.4, 0.4, 0.4])
    poll_times = [sum(script.sleeps()[:i]) for i in range(len(script.sleeps()) + 1)]
    for k in range(1, 5):  # 0.4, 0.8, 1.2, 1.6: the interval client's times are all there
        assert any(abs(t - 0.4 * k) < 1e-9 for t in poll_times)


def test_our_own_request_starts_the_grid_again(calc_tools: object) -> None:
    """After a submit the run is read at once, then at b, 2b... from the submit's answer."""
    d = drive(tools=calc_tools, poll_interval_s=1.0, first_poll_backoff_s=0.25)  # type: ignore[arg-type]
    script = Script().add(
        run("queued"),
        run("queued"),
        run("requires_action", calls=[("call_1", "add", '{"a": 1, "b": 2}')]),
        run("queued"),  # the submit's answer
        run("queued"),
        run("in_progress"),
        run("completed"),
    )
    script.play(d.attach())
    # before: 0.25, 0.25 (to 0.5); the submit; after it: at once (no sleep), 0.25, 0.25
    assert script.sleeps() == pytest.approx([0.25, 0.25, 0.25, 0.25])
    kinds = [k for k in script.kinds() if k in ("submit", "retrieve", "Sleep")]
    assert kinds[kinds.index("submit") + 1] == "retrieve"


def test_a_poll_header_wins_on_every_poll() -> None:
    """Each poll's own hint decides the next wait."""
    d = drive()
    script = Script().add(
        run("queued", poll_after_ms="120"),
        run("queued", poll_after_ms="40"),
        run("in_progress", poll_after_ms="900"),
        run("completed"),
    )
    script.play(d.attach())
    assert script.sleeps() == pytest.approx([0.12, 0.04, 0.9])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("nan", None),  # not a number: ignored (the backoff decides)
        ("abc", None),
        ("", None),
        ("inf", 30.0),  # clamped to max_poll_interval_s
        ("1e12", 30.0),
        ("-5", 0.005),  # clamped to min_poll_interval_s
        ("-inf", 0.005),
        (" 20 ", 0.02),  # surrounding spaces are fine
        ("0", 0.005),
    ],
)
def test_any_poll_after_header_is_clamped_to_a_sane_range(raw: str, expected: float | None) -> None:
    """``nan`` once made the controller poll with no pause (610 polls in 0.6 s)."""
    assert header_seconds(raw, 1000.0, 0.005, 30.0) == expected


def test_a_nan_header_on_every_poll_never_makes_the_drive_spin() -> None:
    """A server that always says ``nan``: the drive backs off as if there were no header."""
    d = drive(poll_interval_s=1.0)
    script = Script().add(*([run("queued", poll_after_ms="nan")] * 8), run("completed"))
    script.play(d.attach())
    assert min(script.sleeps()) >= 0.05
    assert sum(script.sleeps()) > 1.0


def test_after_a_429_that_outlived_its_retries_the_next_poll_waits_its_retry_after() -> None:
    """The next poll comes after the 429's retry-after (2 s), not the last poll-after (50 ms)."""
    d = drive(retry=RetryPolicy(max_attempts=2, base_s=0.001, cap_s=0.001))
    limited = http_error(429, **{"retry-after": "2"})
    script = Script().add(run("queued", poll_after_ms="50"), limited, limited, run("completed"))
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.TERMINAL
    # read (hint 50 ms), sleep 50 ms, poll 429, retry after 2 s, 429 again, next poll after 2 s
    assert script.sleeps() == pytest.approx([0.05, 2.0, 2.0])


def test_retry_waits_never_outlast_the_deadlines() -> None:
    """A server that answers every request 429 with a long retry-after: the drive ends within
    the overall deadline plus the cancelling deadline (it once lasted 240 s for 3 s + 2 s)."""
    d = drive(
        overall_timeout_s=3.0,
        deadlines={"cancelling": 2.0},
        retry=RetryPolicy(max_attempts=5, max_retry_after_s=120.0),
    )
    limited = http_error(429, **{"retry-after": "100"})
    script = Script().add(run("in_progress"), *([limited] * 50))
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.CANCEL_UNCONFIRMED
    assert result.ending.deadline == "overall"
    assert script.now <= 3.0 + 2.0 + 1e-6
    assert "cancel" in script.ops()


def test_the_backoff_is_deterministic_given_the_rng() -> None:
    """Jitter comes only from the drive's rng: two drives with equal seeds and replies ask for
    exactly the same requests (what a Temporal workflow needs to replay a drive)."""

    def one() -> list[Request]:
        d = drive(retry=RetryPolicy(max_attempts=4))
        d.rng = random.Random(7)
        script = Script().add(
            run("queued"), http_error(503), http_error(503), run("in_progress"), run("completed")
        )
        script.play(d.attach())
        return script.log

    assert one() == one()


def test_schedule_unit_a_failed_poll_without_retry_after_stays_on_the_grid() -> None:
    """A failed poll without a hint waits for the next grid time, like a poll without one."""
    schedule = PollSchedule(ControllerConfig(poll_interval_s=1.0, first_poll_backoff_s=0.25))
    schedule.after_poll({}, 0.0)
    assert schedule.wait == pytest.approx(0.25)
    schedule.after_failure(http_error(500), 0.25)
    assert schedule.wait == pytest.approx(0.25)
    schedule.after_failure(http_error(500), 0.6)
    assert schedule.wait == pytest.approx(0.4)
    schedule.after_poll({}, 1.0)
    assert schedule.wait == pytest.approx(1.0)
