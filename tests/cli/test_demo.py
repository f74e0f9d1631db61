"""``lifecycle demo`` says why a run did not complete, and gives up on a run that never finishes
at its short deadline instead of following it for ten minutes."""

from __future__ import annotations

import time

import pytest

from tests.cli.conftest import lifecycle


def test_the_main_job_completes() -> None:
    done = lifecycle("demo")
    assert done.returncode == 0, done.stderr
    assert "The total price of your order is 135.0." in done.stdout
    assert "reason" not in done.stdout


@pytest.mark.parametrize(
    ("scenario", "reason"),
    [
        ("fails", "last_error server_error: Sorry, something went wrong."),
        ("incomplete", "incomplete_details.reason: max_completion_tokens"),
    ],
)
def test_a_run_that_did_not_complete_shows_why(scenario: str, reason: str) -> None:
    done = lifecycle("demo", "--scenario", scenario)
    assert done.returncode == 1
    assert done.stderr == ""
    assert reason in done.stdout


def test_a_run_that_never_finishes_ends_at_the_demo_deadline() -> None:
    start = time.monotonic()
    done = lifecycle("demo", "--scenario", "never-finishes", "--timeout", "1.5", timeout=60)
    took = time.monotonic() - start
    assert done.returncode == 1
    assert done.stderr == ""  # the controller's log records stay off the terminal
    assert "the run did not finish within 1.5 s (deadline: overall)" in done.stdout
    assert "it was cancelled and ended cancelled" in done.stdout
    assert took < 30


def test_a_cancel_that_is_never_confirmed_is_reported() -> None:
    done = lifecycle("demo", "--scenario", "stuck-cancelling", "--timeout", "0.5", timeout=60)
    assert done.returncode == 1
    assert "the cancel was never confirmed" in done.stdout


def test_the_default_deadline_is_short_with_the_simulator() -> None:
    done = lifecycle("demo", "--help")
    assert done.returncode == 0
    assert "15 with the simulator" in " ".join(done.stdout.split())
