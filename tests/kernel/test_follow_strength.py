"""Gaps found by mutation testing in how a kernel drive starts, follows and finishes (issue 14;
docs/mutation.md): a create refused outright closes its intent and one outlasted by a deadline
leaves it open (raising a timeout for ``create``); a deadline that cuts a retry short ends
``deadline``, not ``cancel_unconfirmed``; a thread the policy does not clear closes the intent; a
terminal run is not closed as stopped; a resumed drive keeps its create intent, numbers its next
round from the ledger and never resends a round the server already holds; a cancel of a run
that had already ended is a lost race; a late tool result is saved by the follow loop; and
``watch`` reports completed steps and messages once (a failed listing is only a note)."""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping

import pytest

from lifecycle import CallState, RunLifecycle, ToolCall, ToolLedger, ToolOutput
from lifecycle.kernel import (
    BindCreate,
    CallFailed,
    CloseRun,
    EndingKind,
    Failure,
    FailureKind,
    HttpResponse,
    MessageSeen,
    Notice,
    RetryPolicy,
    RoundStarted,
    SaveRun,
    StepSeen,
    StreamOpened,
    ThreadBusy,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import (
    RUN,
    THREAD,
    Script,
    chain_drive,
    drive,
    http_error,
    ok,
    run,
    run_body,
)
from tests.kernel.test_rounds_strength import _step

ARGS = {"assistant_id": "asst_1"}
ADD = ToolCall("call_1", "add", '{"a": 1, "b": 2}')
LOST = Failure(FailureKind.TIMEOUT, message="timed out")


class LongestJitter(random.Random):
    """Retry waits take their longest jittered value (the tests' deadlines cut them)."""

    def uniform(self, a: float, b: float) -> float:
        return b


def _binds(script: Script) -> list[tuple[str, str]]:
    return [(r.op_id, r.run_id) for r in script.log if isinstance(r, BindCreate)]


# -- creates that fail -------------------------------------------------------------------------


def test_a_create_refused_outright_closes_its_intent_and_raises_for_create() -> None:
    script = Script().add(http_error(400))
    with pytest.raises(CallFailed) as raised:
        script.play(drive(run_id="", durable=True).create(ARGS, op_id="op_1"))
    assert raised.value.op == "create"
    assert raised.value.failure.status == 400
    assert _binds(script) == [("op_1", "")]  # no run exists for the intent


def test_a_lost_create_outlasted_by_the_deadline_raises_a_timeout_and_keeps_the_intent() -> None:
    """The create's answer was lost, no run carries its op id, and the overall deadline cuts
    the wait before it could be sent again: a timeout for ``create``; the intent stays open
    for ``recover()`` (nothing says the run does not exist)."""
    nothing = ok({"object": "list", "data": []})
    script = Script().add(LOST, nothing, nothing)
    d = drive(run_id="", durable=True, overall_timeout_s=0.1, rng=LongestJitter())
    with pytest.raises(CallFailed) as raised:
        script.play(d.create(ARGS, op_id="op_1"))
    assert raised.value.op == "create"
    assert raised.value.failure.kind is FailureKind.TIMEOUT
    assert raised.value.failure.message == "overall deadline passed"
    assert _binds(script) == []
    assert script.ops() == ["create", "list_runs", "list_runs"]  # one last look at the end


def test_a_busy_thread_the_policy_does_not_clear_closes_the_intent() -> None:
    busy = Failure(
        FailureKind.STATUS,
        status=400,
        message=f"Thread {THREAD} already has an active run run_9.",
    )
    foreign = ok({"object": "list", "data": [run_body("in_progress", run_id="run_9")]})
    script = Script().add(busy, foreign)
    with pytest.raises(ThreadBusy):
        script.play(drive(run_id="", durable=True).create(ARGS, op_id="op_1"))
    assert _binds(script) == [("op_1", "")]


# -- endings -----------------------------------------------------------------------------------


def test_a_deadline_that_cuts_a_retry_short_ends_deadline() -> None:
    """No cancel was ever asked for, so the ending is ``deadline``, not ``cancel_unconfirmed``."""
    d = drive(
        overall_timeout_s=0.1, retry=RetryPolicy(max_attempts=5, base_s=1.0), rng=LongestJitter()
    )
    script = Script().add(http_error(503), http_error(503))
    result = script.play(d.attach())
    assert (result.ending.kind, result.ending.deadline) == (EndingKind.DEADLINE, "overall")
    assert not result.cancel_requested


def test_a_terminal_run_is_saved_but_not_closed_as_stopped() -> None:
    script = Script().add(run("in_progress"), run("completed"))
    result = script.play(drive(durable=True).attach())
    assert result.ending.kind is EndingKind.TERMINAL
    assert [r for r in script.log if isinstance(r, SaveRun)]
    assert [r for r in script.log if isinstance(r, CloseRun)] == []


def test_a_cancel_of_a_run_that_had_already_ended_is_a_lost_race() -> None:
    script = Script().add(run("completed"))
    result = script.play(drive().cancel())
    assert "cancel" not in script.ops()
    assert (result.cancel_requested, result.cancel_lost_race) == (True, True)


# -- resuming ----------------------------------------------------------------------------------


def _waiting(*calls: ToolCall) -> RunLifecycle:
    lc = RunLifecycle()
    lc.observe("in_progress")
    lc.observe("requires_action", tool_calls=list(calls))
    lc.take_commands()  # as restored from a snapshot: the round's dispatch was acted on
    return lc


def test_a_resumed_drive_keeps_its_create_intent_in_its_checkpoint() -> None:
    lc = RunLifecycle()
    lc.observe("in_progress")
    d = drive()
    Script().add(run("completed")).play(d.resume(lc, ToolLedger(), op_id="op_7"))
    assert d.checkpoint().op_id == "op_7"


def test_a_resumed_drive_numbers_its_first_round_one(calc_tools: CountingTools) -> None:
    lc = RunLifecycle()
    lc.observe("in_progress")
    script = Script().add(
        run("in_progress"),
        run("requires_action", calls=[(ADD.id, ADD.name, ADD.arguments)]),
        ok(run_body("queued")),
        run("completed"),
    )
    result = script.play(drive(tools=calc_tools).resume(lc, ToolLedger()))
    assert [e.round for e in script.emitted(RoundStarted)] == [1]
    assert result.ledger.entries[ADD.id].round == 1


def test_a_recorded_round_the_server_already_holds_is_never_sent_again(
    calc_tools: CountingTools,
) -> None:
    """A crash after the submit went out: the round's outputs are all recorded, the run still
    reads ``requires_action`` (a stale read) but its step holds the output: delivered, and no
    submit is sent again."""
    ledger = ToolLedger()
    ledger.intend(ADD, round=1)
    assert ledger.claim(ADD.id)
    ledger.record(ToolOutput(ADD.id, "3", "3"), executed=True)
    script = Script().add(
        run("requires_action", calls=[(ADD.id, ADD.name, ADD.arguments)]),
        ok({"object": "list", "data": [_step({ADD.id: "3"})]}),
        run("in_progress"),
        run("completed"),
    )
    result = script.play(drive(tools=calc_tools).resume(_waiting(ADD), ledger))
    assert "submit" not in script.ops()
    assert result.ledger.state_of(ADD.id) is CallState.DELIVERED
    assert calc_tools.runs["add"] == 0


# -- following ---------------------------------------------------------------------------------


def test_a_late_tool_result_is_saved_by_the_follow_loop() -> None:
    ledger = ToolLedger()
    ledger.intend(ADD, round=1)
    assert ledger.claim(ADD.id)
    ledger.record(ToolOutput(ADD.id, "timed out", "timed out"), executed=True, timed_out=True)
    lc = RunLifecycle()
    lc.observe("in_progress")
    late = ToolOutput(ADD.id, "3", "3")
    script = Script().add(run("in_progress"), run("in_progress"), run("completed"))
    script.late = [late]  # handed over with the first reply
    script.play(drive(durable=True).resume(lc, ledger))
    kinds = script.kinds()
    assert kinds.index("SaveRun") < kinds.index("retrieve", 1)  # saved before the next poll
    (save, *_) = [r for r in script.log if isinstance(r, SaveRun)]
    assert save.ledger.entries[ADD.id].late_output == "3"


def _steps(*steps: Mapping[str, object]) -> HttpResponse:
    return ok({"object": "list", "data": list(steps)})


def test_watching_reports_each_completed_step_and_message_once() -> None:
    tool_step = {"id": "step_1", "type": "tool_calls", "status": "completed"}
    message_step = {"id": "step_2", "type": "message_creation", "status": "completed"}
    message = {
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "text", "text": {"value": "hello"}}],
    }
    script = Script().add(
        run("in_progress"),
        run("in_progress"),
        _steps(tool_step),
        run("completed"),
        _steps(tool_step, message_step),
        ok({"object": "list", "data": [message]}),
    )
    result = script.play(drive(watch=True).attach())
    assert [s.payload["id"] for s in script.emitted(StepSeen)] == ["step_1", "step_2"]
    assert [(m.text, m.payload["id"]) for m in script.emitted(MessageSeen)] == [("hello", "msg_1")]
    assert result.ending.status == "completed"


def test_a_failed_step_listing_is_a_note_and_the_drive_follows_on() -> None:
    script = Script().add(
        run("in_progress"),
        run("in_progress"),
        http_error(400),
        run("completed"),
        _steps(),
    )
    result = script.play(drive(watch=True).attach())
    assert result.ending.status == "completed"
    (note,) = [n for n in script.emitted(Notice) if n.message == "could not list steps"]
    assert note.level == logging.INFO
    assert "http_400" in str(note.fields["error"])


# -- a create's stream that never names the run --------------------------------------------------


def test_a_create_stream_that_ends_before_naming_the_run_finds_it_by_its_op_id() -> None:
    """Assistants: the stream ended (or dropped) before its first event; the run is looked up
    by the create's op id and followed, never polled under an empty id."""
    mine = run_body("in_progress", metadata={"op_id": "op_1"})
    script = Script().add(
        StreamOpened("s1"), ok({"object": "list", "data": [mine]}), run("completed")
    )
    script.events.append(Failure(FailureKind.STREAM, message="dropped"))
    result = script.play(drive(run_id="", stream=True).create(ARGS, op_id="op_1"))
    assert result.ending.status == "completed"
    assert result.run_id == RUN
    assert script.ops() == ["create", "list_runs", "retrieve"]
    assert all(c.http.path.rstrip("/").endswith(RUN) for c in script.calls()[2:])


def test_a_create_stream_naming_no_run_that_cannot_be_found_is_an_unknown_create() -> None:
    nothing = ok({"object": "list", "data": []})
    script = Script().add(StreamOpened("s1"), nothing)
    d = drive(run_id="", stream=True, durable=True)
    with pytest.raises(CallFailed) as raised:
        script.play(d.create(ARGS, op_id="op_1"))
    assert raised.value.op == "create"
    assert raised.value.failure.message == "the create's stream ended before it named the run"
    assert _binds(script) == []  # the intent stays open for recover()
    assert script.ops() == ["create", "list_runs"]


def test_a_chain_whose_first_stream_names_no_response_raises_and_polls_nothing() -> None:
    """Responses: a create cannot be looked up; the first response's stream ended before
    ``response.created``: the create's outcome is unknown (raised), nothing is polled."""
    script = Script().add(StreamOpened("s1"))
    d = chain_drive(stream=True)
    with pytest.raises(CallFailed) as raised:
        script.play(d.create({"model": "gpt-test", "input": "hi"}, op_id="op_1"))
    assert raised.value.op == "create"
    assert script.ops() == ["create"]
