"""Deadlines that race the server (found by the chain controller's state machine): a deadline's
cancel whose answer shows the chain waiting for its client ends the chain there (nothing runs on
the server; ending it is the controller's alone), and a wait that overran a deadline (a process
suspended, a slow clock) runs no new tool round: the deadline's action comes first."""

from __future__ import annotations

from typing import Any

import pytest

from lifecycle import CallState
from lifecycle.kernel import ApiCall, Drive, EndingKind, RetryPolicy
from tests.kernel.conftest import CountingTools
from tests.kernel.script import Script, chain_drive, drive, http_error, ok, run
from tests.kernel.test_follow_strength import LongestJitter
from tests.kernel.test_responses import ARGS, CALL, answer, response

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


def _recorded_round(tools: CountingTools) -> Drive:
    """A chain drive that ran its round's tool and recorded the output, then died before the
    next response was sent (nothing marked ``submitted``)."""
    first = chain_drive(tools)
    script = Script().add(ok(response("completed", output=[CALL])))
    flow = first.create(ARGS, op_id="op_1")
    script.play_until(flow, "submit")
    flow.close()
    return first


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(response("queued"), id="stale-queued"),
        pytest.param(response("completed"), id="completed-without-its-calls"),
    ],
)
def test_a_resumed_chain_never_takes_the_answered_responses_status_as_delivery(
    calc_tools: CountingTools, read: dict[str, Any]
) -> None:
    """Found by the chain state machine: resuming a round whose output was recorded, the kernel
    judged delivery by the status of the response that asked for it (a chain's outputs go
    out in a *new* response, so that status says nothing) and marked a never-sent output
    ``delivered`` on a stale or garbled read. It is never delivered on a read."""
    first = _recorded_round(calc_tools)
    second = chain_drive(calc_tools, run_id="resp_1")
    reads = [read] * 3

    def server(call: ApiCall) -> Any:
        if call.op == "submit":
            return ok(response("queued", rid="resp_2"))
        if call.http.path.endswith("resp_2"):
            return ok(response("completed", rid="resp_2", output=answer("3")))
        return ok(reads.pop() if reads else response("completed", output=[CALL]))

    rest = Script().add(*[server] * 60)
    result = rest.play(second.resume(first.lc, first.ledger, op_id="op_1"))
    submits = rest.ops().count("submit")
    assert submits <= 1
    delivered = result.ledger.state_of("call_1") is CallState.DELIVERED
    assert delivered == (submits == 1)  # delivered only by a next response that was sent
    assert calc_tools.runs["add"] == 1  # the tool ran once, in the first drive


def test_a_resumed_chain_sends_a_recorded_output_that_was_never_submitted(
    calc_tools: CountingTools,
) -> None:
    """The read shows the response still waiting for its client: the recorded output goes out
    once, in the next response, and the tool is not run again."""
    first = _recorded_round(calc_tools)
    second = chain_drive(calc_tools, run_id="resp_1")
    rest = Script().add(
        ok(response("completed", output=[CALL])),
        ok(response("queued", rid="resp_2")),
        ok(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = rest.play(second.resume(first.lc, first.ledger, op_id="op_1"))
    assert rest.ops() == ["retrieve", "submit", "retrieve"]
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert (result.ending.kind, result.ending.status) == (EndingKind.TERMINAL, "completed")
    assert calc_tools.runs["add"] == 1


def test_a_resumed_chain_round_an_earlier_drive_may_have_sent_is_not_read_for(
    calc_tools: CountingTools,
) -> None:
    """The effect log says the round was submitted with no answer on record: the next response
    may exist, and the response that asked cannot tell (a garbled read of it, ``completed``
    without its calls, once ended the chain ``completed`` with the output reported undelivered
    although it had got in). The drive ends ``outcome_unknown`` at once, with no request."""
    first = _recorded_round(calc_tools)
    second = chain_drive(calc_tools, run_id="resp_1")
    rest = Script().add(ok(response("completed")))
    result = rest.play(second.resume(first.lc, first.ledger, op_id="op_1", submitted={"call_1"}))
    assert rest.ops() == []
    assert (result.ending.kind, result.ending.detail) == (EndingKind.OUTCOME_UNKNOWN, "submit")
    assert result.ledger.state_of("call_1") is not CallState.DELIVERED
