"""Deadlines that race the server (found by the chain controller's state machine): a deadline's
cancel whose answer shows the chain waiting for its client ends the chain there (nothing runs on
the server; ending it is the controller's alone), and a wait that overran a deadline (a process
suspended, a slow clock) runs no new tool round: the deadline's action comes first."""

from __future__ import annotations

from typing import Any

from lifecycle.kernel import ApiCall, EndingKind, RetryPolicy
from tests.kernel.conftest import CountingTools
from tests.kernel.script import Script, chain_drive, drive, http_error, ok, run
from tests.kernel.test_follow_strength import LongestJitter
from tests.kernel.test_responses import ARGS, CALL, response

SLOW_RETRY = RetryPolicy(max_attempts=4, base_s=5.0, cap_s=5.0)


def test_a_deadline_cancel_that_finds_the_chain_awaiting_its_client_ends_it(
    calc_tools: CountingTools,
) -> None:
    """The response completed with a call while the read failed and the retry's wait hit the
    ``queued`` deadline; the cancel's answer is that completed response. The chain ends there
    (``deadline``, cancelled locally, the call unanswered) with no further read."""
    d = chain_drive(calc_tools, deadlines={"queued": 1.0}, retry=SLOW_RETRY, rng=LongestJitter())
    script = Script().add(
        ok(response("queued")),
        http_error(500),
        ok(response("completed", output=[CALL])),  # the cancel lost the race
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert script.ops() == ["create", "retrieve", "cancel"]
    assert (result.ending.kind, result.ending.deadline) == (EndingKind.DEADLINE, "queued")
    assert result.ending.status == "cancelled"
    assert result.history[-1].via == "client"
    assert calc_tools.runs["add"] == 0


def test_a_wait_that_overran_the_overall_deadline_runs_no_tool_round(
    calc_tools: CountingTools,
) -> None:
    """The drive asked for a short wait and woke long after the overall deadline; the read
    shows a tool round. The tool is not run and no output is submitted: the deadline's cancel
    is sent instead."""
    d = drive(tools=calc_tools, overall_timeout_s=10.0)
    script = Script()

    def read_after_oversleeping(call: ApiCall) -> Any:
        script.now += 60.0  # the process was suspended far past its wait
        return run("requires_action", calls=[("call_1", "add", '{"a": 1, "b": 2}')])

    script.add(run("in_progress"), read_after_oversleeping, run("cancelling"), run("cancelled"))
    result = script.play(d.attach())
    assert calc_tools.runs["add"] == 0
    assert "submit" not in script.ops()
    assert script.ops()[:3] == ["retrieve", "retrieve", "cancel"]
    assert (result.ending.kind, result.ending.deadline) == (EndingKind.DEADLINE, "overall")
    assert result.ending.status == "cancelled"
