"""When the kernel polls: at once after our own requests, server hints clamped, a growing backoff
without hints, a 429's retry-after honoured, and no wait ever past a deadline."""

from __future__ import annotations

import random

import pytest

from lifecycle.kernel import ControllerConfig, EndingKind, RetryPolicy
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


def test_without_headers_the_wait_grows_to_the_interval_and_starts_again_on_a_change() -> None:
    """No header anywhere: 0.05, 0.1, 0.2, ... up to ``poll_interval_s``; a status change
    starts the backoff again."""
    d = drive(poll_interval_s=0.4)
    answers = [run("queued")] * 6 + [run("in_progress")] * 3 + [run("completed")]
    script = Script().add(*answers)
    script.play(d.attach())
    assert script.sleeps() == pytest.approx([0.05, 0.1, 0.2, 0.4, 0.4, 0.4, 0.05, 0.1, 0.2])


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

    def one() -> list[object]:
        d = drive(retry=RetryPolicy(max_attempts=4))
        d.rng = random.Random(7)
        script = Script().add(
            run("queued"), http_error(503), http_error(503), run("in_progress"), run("completed")
        )
        script.play(d.attach())
        return script.log

    assert one() == one()


def test_schedule_unit_after_failure_without_retry_after_keeps_backing_off() -> None:
    """A failed poll without a hint keeps the backoff going (it does not reset it)."""
    schedule = PollSchedule(ControllerConfig(poll_interval_s=1.0))
    schedule.after_poll({}, changed=False)
    first = schedule.wait
    schedule.after_failure(http_error(500))
    assert schedule.wait == pytest.approx(first * 2)
