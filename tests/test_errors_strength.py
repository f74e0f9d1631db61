"""Gaps found by mutation testing in the error types (issue 14; docs/mutation.md): each carries
the facts it documents and says them in its message (the controllers raise them; their suites
are not in the mutation run's selection)."""

from __future__ import annotations

import pytest

from lifecycle import (
    GuardRejected,
    IllegalTransition,
    PollTimeout,
    RunCancelled,
    RunExpired,
    RunFailed,
    RunIncomplete,
)
from lifecycle.errors import RunEndedUnsuccessfully


def test_a_poll_timeout_carries_the_run_the_wait_the_status_and_the_deadline() -> None:
    error = PollTimeout("run_9", 12.345, "in_progress", "overall")
    assert (error.run_id, error.waited_s, error.last_status, error.deadline) == (
        "run_9",
        12.345,
        "in_progress",
        "overall",
    )
    assert (
        str(error)
        == "run run_9: the overall deadline passed after 12.3s (last status 'in_progress')"
    )


@pytest.mark.parametrize("kind", [RunFailed, RunExpired, RunCancelled, RunIncomplete])
def test_an_unsuccessful_end_carries_the_run_its_status_and_the_detail(
    kind: type[RunEndedUnsuccessfully],
) -> None:
    error = kind("run_9", "failed", "server_error: boom")
    assert (error.run_id, error.status, error.detail) == ("run_9", "failed", "server_error: boom")
    assert str(error) == "run run_9 ended failed: server_error: boom"
    bare = kind("run_9", "expired")
    assert (bare.detail, str(bare)) == ("", "run run_9 ended expired")


def test_an_illegal_move_names_the_state_and_the_trigger_or_the_status() -> None:
    by_trigger = IllegalTransition("queued", trigger="submit_tool_outputs")
    assert (by_trigger.state, by_trigger.trigger, by_trigger.target) == (
        "queued",
        "submit_tool_outputs",
        None,
    )
    assert str(by_trigger) == "can't apply trigger 'submit_tool_outputs' in state 'queued'"
    by_status = IllegalTransition("completed", target="queued", reason="after a terminal status")
    assert (
        str(by_status)
        == "can't apply status 'queued' in state 'completed': after a terminal status"
    )
    rejected = GuardRejected("requires_action", trigger="submit", guard="g", reason="why")
    assert (rejected.state, rejected.trigger, rejected.guard) == ("requires_action", "submit", "g")
    assert str(rejected).endswith(": guard g failed: why")
