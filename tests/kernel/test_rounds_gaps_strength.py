"""Gaps found by the second mutation run in the kernel's tool rounds (issue 14; docs/mutation.md):

* a held round's ending names every held call (``call_1,call_2``, ``approval:call_1,call_3``);
* a lost result does not stop the effect log: the round's other results are logged ``finished``;
* a call the driver returned no result for is answered with a ``tool_timeout`` output;
* the round-finished event carries that round's calls only, not earlier rounds';
* the tools run with the configured ``max_concurrency`` (1 stays 1);
* an approval reply with fewer or more decisions than requests is refused: nothing runs;
* a streamed drive submits with ``stream`` and reads the stream the submit opened;
* a chain's submit edge carries the time of the accepted submit and is reported, with the next
  response, in that response's ``StatusSeen``;
* reconciling a lost submit by the run's status alone (no run step lists the calls): a move
  past ``requires_action`` since the submit delivers it (an earlier round's move does not),
  still waiting sends it again, a run that moved elsewhere or ended gives the outputs up without
  sending them again; the read is journaled ``via="poll"``;
* a garbage answer while reconciling is read again after ``max(wait, first_poll_backoff_s)``;
* a resumed round is sent again even when the reconcile read saw no object of its own (a
  misrouted answer): the tools' budget does not need one.
"""

from __future__ import annotations

import pytest

from lifecycle import CallState, Decision
from lifecycle.kernel import (
    ApiCall,
    AskApproval,
    EndingKind,
    Failure,
    FailureKind,
    NextEvent,
    RecordEffect,
    Reply,
    Request,
    RoundFinished,
    RunTools,
    SseEvent,
    StatusSeen,
    StreamOpened,
    ToolResult,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import (
    START,
    Script,
    chain_drive,
    drive,
    http_error,
    ok,
    run,
    run_body,
    run_inline,
)
from tests.kernel.test_approvals import CHARGE, Hook, gated  # noqa: F401 - the fixture
from tests.kernel.test_responses import ARGS, CALL, answer, response
from tests.kernel.test_rounds_strength import _step

ADD = ("call_1", "add", '{"a": 1, "b": 2}')
ADD2 = ("call_2", "add", '{"a": 3, "b": 4}')
LOST = Failure(FailureKind.TIMEOUT, message="timed out")
NO_STEPS = ok({"object": "list", "data": []})  # a server that lists no run step for the calls


def _submits(script: Script) -> int:
    return script.ops().count("submit")


# -- held rounds and the effect log ------------------------------------------------------------


def test_a_held_round_names_every_call_with_an_unknown_effect(calc_tools: CountingTools) -> None:
    def lost(request: RunTools) -> list[ToolResult]:
        return [ToolResult(r.output, lost=True) for r in run_inline(request)]

    script = Script(tools=lost).add(run("requires_action", calls=[ADD, ADD2]))
    result = script.play(drive(tools=calc_tools).attach())
    assert result.ending.kind is EndingKind.HELD
    assert result.ending.detail == "call_1,call_2"
    assert "submit" not in script.ops()


def test_a_lost_result_does_not_stop_the_effect_log_of_the_others(
    calc_tools: CountingTools,
) -> None:
    """The first call's worker died (unknown effect), the second finished: the second is
    logged ``finished``, the first is not; the round is held on the first."""

    def first_lost(request: RunTools) -> list[ToolResult]:
        first, second = run_inline(request)
        return [ToolResult(first.output, lost=True), second]

    script = Script(tools=first_lost).add(run("requires_action", calls=[ADD, ADD2]))
    result = script.play(drive(tools=calc_tools, durable=True).attach())
    effects = [(r.call_id, r.phase, r.detail) for r in script.log if isinstance(r, RecordEffect)]
    assert effects == [
        ("call_1", "started", ""),
        ("call_2", "started", ""),
        ("call_2", "finished", "ok"),
    ]
    assert result.ending.detail == "call_1"
    assert result.ledger.state_of("call_1") is CallState.UNKNOWN_EFFECT


def test_an_undecided_round_names_every_pending_call(gated: CountingTools) -> None:  # noqa: F811
    both = [CHARGE, ("call_3", "refund", '{"cents": 900}')]
    script = Script(approver=Hook()).add(run("requires_action", calls=both))
    result = script.play(drive(tools=gated).attach())
    assert result.ending.kind is EndingKind.HELD
    assert result.ending.detail == "approval:call_1,call_3"
    assert gated.runs == {}


# -- the round's outputs and events ------------------------------------------------------------


def test_a_call_the_driver_returned_no_result_for_is_answered_with_a_timeout(
    calc_tools: CountingTools,
) -> None:
    """The driver's batch reply holds the first call's result only: the submission still
    carries one output per call, the missing one a ``tool_timeout`` error."""

    def first_only(request: RunTools) -> list[ToolResult]:
        return run_inline(request)[:1]

    script = Script(tools=first_only).add(
        run("requires_action", calls=[ADD, ADD2]), run("queued"), run("completed")
    )
    result = script.play(drive(tools=calc_tools).attach())
    (submit,) = [c for c in script.calls() if c.op == "submit"]
    assert submit.http.body is not None
    outputs = submit.http.body["tool_outputs"]
    assert [o["tool_call_id"] for o in outputs] == ["call_1", "call_2"]
    assert outputs[0]["output"] == "3"
    assert '"type":"tool_timeout"' in outputs[1]["output"].replace(" ", "")
    assert result.ending.status == "completed"


def test_the_round_finished_event_holds_only_that_rounds_calls(
    calc_tools: CountingTools,
) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD]),
        run("queued"),
        run("requires_action", calls=[ADD2]),
        run("queued"),
        run("completed"),
    )
    script.play(drive(tools=calc_tools).attach())
    first, second = script.emitted(RoundFinished)
    assert (first.round, [r.id for r in first.records]) == (1, ["call_1"])
    assert (second.round, [(r.id, r.output) for r in second.records]) == (2, [("call_2", "7")])


def test_the_tools_run_with_the_configured_concurrency(calc_tools: CountingTools) -> None:
    script = Script().add(run("requires_action", calls=[ADD, ADD2]), run("queued"))
    script.add(run("completed"))
    script.play(drive(tools=calc_tools, max_concurrency=1).attach())
    (batch,) = [r for r in script.log if isinstance(r, RunTools)]
    assert batch.max_concurrency == 1
    assert len(batch.items) == 2


@pytest.mark.parametrize("answers", [0, 2])
def test_an_approval_reply_of_the_wrong_length_is_refused_and_nothing_runs(
    gated: CountingTools,  # noqa: F811
    answers: int,
) -> None:
    """The driver answers one approval request with no decision, or with two: the reply is
    not matched up with the requests by guesswork (the drive fails), and the gated call never
    runs."""

    asked: list[int] = []

    class Miscounting(Script):
        def reply(self, request: Request) -> Reply:
            if isinstance(request, AskApproval):
                asked.append(len(request.requests))
                return Reply([Decision.approve()] * answers, None, self.now, START + self.now)
            return super().reply(request)

    script = Miscounting().add(run("requires_action", calls=[CHARGE]), run("queued"))
    with pytest.raises(ValueError, match="zip"):
        script.play(drive(tools=gated).attach())
    assert asked == [1]
    assert gated.runs == {}
    assert not any(isinstance(r, RunTools) for r in script.log)
    assert "submit" not in script.ops()


# -- submitting --------------------------------------------------------------------------------


def test_a_streamed_drive_submits_with_stream_and_reads_the_stream_the_submit_opened(
    calc_tools: CountingTools,
) -> None:
    script = Script().add(run("requires_action", calls=[ADD]), StreamOpened("after_submit"))
    script.events.extend(
        [
            SseEvent("thread.run.queued", run_body("queued")),
            SseEvent("thread.run.completed", run_body("completed")),
        ]
    )
    result = script.play(drive(tools=calc_tools, stream=True).attach())
    (submit,) = [c for c in script.calls() if c.op == "submit"]
    assert submit.http.stream is True
    assert submit.http.body is not None
    assert submit.http.body["stream"] is True
    reads = [r.handle for r in script.log if isinstance(r, NextEvent)]
    assert reads == ["after_submit"] * 3  # two events, then the end
    assert result.ending.status == "completed"
    assert result.stream_fallbacks == 0
    assert result.ledger.state_of("call_1") is CallState.DELIVERED


def test_a_chains_submit_edge_has_the_submits_time_and_is_reported_with_the_next_response(
    calc_tools: CountingTools,
) -> None:
    """The chain's own move into the next response (``requires_action -> queued``, via the
    client) is journaled at the wall time of the submit's answer and reported once, in the
    first ``StatusSeen`` of the next response."""
    walls: list[float] = []

    class Clocked(Script):
        def reply(self, request: Request) -> Reply:
            answer = super().reply(request)
            if isinstance(request, ApiCall) and request.op == "submit":
                walls.append(answer.wall)
            return answer

    script = Clocked(now=40.0).add(  # the driver's clock has moved on since the drive began
        ok(response("queued")),
        ok(response("completed", output=[CALL])),
        ok(response("queued", rid="resp_2")),  # the next response
        ok(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = script.play(chain_drive(calc_tools).create(ARGS, op_id="op_1"))
    ours = [e for e in result.history if e.via == "client"]
    assert [(e.source, e.dest) for e in ours] == [("requires_action", "queued")]
    assert walls == [START + 40.0]
    assert ours[0].at == walls[0]
    seen = [e for e in script.emitted(StatusSeen) if e.run_id == "resp_2"]
    assert (seen[0].entries[0].source, seen[0].entries[0].dest) == ("requires_action", "queued")
    reported = [x for e in script.emitted(StatusSeen) for x in e.entries if x.via == "client"]
    assert reported == ours


# -- reconciling a lost submit by the run's status ---------------------------------------------


def test_a_lost_submit_is_delivered_when_the_run_moved_past_requires_action(
    calc_tools: CountingTools,
) -> None:
    """No run step lists the call (the API cannot say what it accepted): the run's move
    to ``queued`` since the submit says the outputs got in; nothing is sent again."""
    script = Script().add(
        run("requires_action", calls=[ADD]), LOST, run("queued"), NO_STEPS, run("completed")
    )
    result = script.play(drive(tools=calc_tools).attach())
    assert _submits(script) == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    moved = [e for e in result.history if (e.source, e.dest) == ("requires_action", "queued")]
    assert [e.via for e in moved] == ["poll"]
    assert result.ending.status == "completed"


def test_an_earlier_rounds_move_does_not_deliver_a_lost_submit(calc_tools: CountingTools) -> None:
    """Round 1 was delivered (its move past ``requires_action`` is in the history); round 2's
    submit is lost and the run still waits: only moves since this submit count, so round 2's
    outputs are sent again (the tool runs once)."""
    script = Script().add(
        run("requires_action", calls=[ADD]),
        run("queued"),  # round 1's submit, accepted
        run("requires_action", calls=[ADD2]),
        LOST,  # round 2's submit
        run("requires_action", calls=[ADD2]),  # the reconcile's read: still waiting
        NO_STEPS,
        run("queued"),  # round 2's second submit
        run("completed"),
    )
    result = script.play(drive(tools=calc_tools).attach())
    assert _submits(script) == 3
    assert calc_tools.runs["add"] == 2
    assert result.ledger.state_of("call_2") is CallState.DELIVERED
    assert result.ending.status == "completed"


def test_a_lost_submit_on_a_run_that_moved_elsewhere_is_given_up_not_resent(
    calc_tools: CountingTools,
) -> None:
    """The run left ``requires_action`` for ``cancelling`` (not a submit's edge), and no step
    says what was accepted: the outputs are given up (never sent again)."""
    script = Script().add(
        run("requires_action", calls=[ADD]),
        LOST,
        run("cancelling"),
        NO_STEPS,
        run("cancelled"),
    )
    result = script.play(drive(tools=calc_tools).attach())
    assert _submits(script) == 1
    entry = result.ledger.entries["call_1"]
    assert (entry.state, entry.reason) == (CallState.EXECUTED_UNDELIVERED, "cancelling")
    assert result.ending.status == "cancelled"


def test_a_lost_submit_on_a_run_that_ended_without_it_is_given_up_not_resent(
    calc_tools: CountingTools,
) -> None:
    """The step lists the call without an output and the run has expired: never sent again."""
    script = Script().add(
        run("requires_action", calls=[ADD]),
        LOST,
        run("expired"),
        ok({"object": "list", "data": [_step({"call_1": None})]}),
    )
    result = script.play(drive(tools=calc_tools).attach())
    assert _submits(script) == 1
    entry = result.ledger.entries["call_1"]
    assert (entry.state, entry.reason) == (CallState.EXECUTED_UNDELIVERED, "expired")
    assert result.ending.status == "expired"


def test_a_garbage_read_while_reconciling_is_read_again_after_a_wait(
    calc_tools: CountingTools,
) -> None:
    script = Script().add(
        run("requires_action", calls=[ADD]),
        LOST,
        ok(b"<html>bad gateway</html>"),  # the reconcile's read: garbage
        run("queued"),
        ok({"object": "list", "data": [_step({"call_1": "3"})]}),
        run("completed"),
    )
    result = script.play(drive(tools=calc_tools, first_poll_backoff_s=2.0).attach())
    assert script.ops() == ["retrieve", "submit", "retrieve", "retrieve", "list_steps", "retrieve"]
    assert script.sleeps()[0] == 2.0  # between the garbage and the second read
    assert _submits(script) == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert result.ending.status == "completed"


def test_a_resumed_round_is_sent_again_after_a_reconcile_read_about_another_run(
    calc_tools: CountingTools,
) -> None:
    """An earlier drive ran the round and its submit failed for good (the output is recorded,
    not delivered). The next drive reconciles first; its read is about another run (misrouted,
    ignored: the drive has seen no object of its own yet) and the run step shows no output:
    the run is read again (an answer is built from the object as the server shows it), then the
    recorded output is sent again, and the tool never runs again."""
    first = Script().add(run("requires_action", calls=[ADD]), http_error(401))
    d1 = drive(tools=calc_tools)
    held = first.play(d1.attach())
    assert held.ledger.state_of("call_1") is CallState.EXECUTED_UNDELIVERED
    second = Script().add(
        run("requires_action", run_id="run_other", calls=[ADD]),  # about another run
        ok({"object": "list", "data": [_step({"call_1": None})]}),
        run("requires_action", calls=[ADD]),  # read again: now about this run
        run("queued"),  # the submit's answer
        run("completed"),
    )
    result = second.play(drive(tools=calc_tools).resume(d1.lc, held.ledger))
    assert second.ops() == ["retrieve", "list_steps", "retrieve", "submit", "retrieve"]
    assert calc_tools.runs["add"] == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert result.ending.status == "completed"
