"""Every way a drive ends is one explicit Ending, decided where the drive stops; garbage on the
wire is a lost observation; a stream that is not one falls back to polling."""

from __future__ import annotations

import pytest

from lifecycle import CallState, RunLifecycle, ToolCall, ToolLedger
from lifecycle.kernel import (
    BindCreate,
    CallFailed,
    CloseRun,
    EndingKind,
    Failure,
    FailureKind,
    Notice,
    RetryPolicy,
    Sleep,
    SseEvent,
    StreamOpened,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import RUN, Script, drive, http_error, ok, run, run_body

# -- endings --------------------------------------------------------------------------------------


def test_terminal() -> None:
    result = Script().add(run("in_progress"), run("completed")).play(drive().attach())
    assert (result.ending.kind, result.ending.status) == (EndingKind.TERMINAL, "completed")
    assert result.ending.undelivered_reason == "completed"


def test_deadline_without_cancel_leaves_the_run_as_it_was() -> None:
    d = drive(cancel_on_timeout=False, deadlines={"queued": 1.0})
    script = Script().add(*([run("queued", poll_after_ms="400")] * 10))
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert (result.ending.deadline, result.ending.status) == ("queued", "queued")
    assert "cancel" not in script.ops()
    assert script.now == pytest.approx(1.0)  # the last wait was cut to the deadline


def test_deadline_with_a_confirmed_cancel_reports_the_deadline_and_the_status() -> None:
    d = drive(deadlines={"queued": 1.0})
    script = Script().add(
        *([run("queued", poll_after_ms="400")] * 3), run("cancelling"), run("cancelled")
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert result.ending.status == "cancelled"
    assert result.ending.terminal
    assert not result.cancel_lost_race


def test_cancel_unconfirmed() -> None:
    d = drive(deadlines={"queued": 1.0, "cancelling": 1.0})
    script = Script().add(*([run("queued", poll_after_ms="400")] * 3), *([run("cancelling")] * 30))
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.CANCEL_UNCONFIRMED
    assert result.ending.deadline == "queued"
    assert script.now <= 2.0 + 1e-9


def test_lost_handle() -> None:
    result = Script().add(run("queued"), http_error(404)).play(drive(durable=True).attach())
    assert result.ending.kind is EndingKind.LOST_HANDLE
    assert result.ending.outcome_status == "lost_handle"


def test_lost_handle_and_cancel_unconfirmed_close_the_run_in_the_store() -> None:
    script = Script().add(run("queued"), http_error(404))
    script.play(drive(durable=True).attach())
    assert [r.reason for r in script.log if isinstance(r, CloseRun)] == ["lost_handle"]


def test_abandoned_on_an_error_that_is_not_retryable() -> None:
    result = Script().add(run("queued"), http_error(401)).play(drive().attach())
    assert result.ending.kind is EndingKind.ABANDONED
    assert result.ending.detail == "http_401"
    assert result.ending.undelivered_reason == "abandoned"


def test_held_when_a_call_has_an_unknown_effect(calc_tools: CountingTools) -> None:
    """A resumed round with a call that started before a crash: never re-run, never answered."""
    lc = RunLifecycle()
    lc.observe("requires_action", tool_calls=[])  # payload unknown at save time
    ledger = ToolLedger()
    call = ToolCall("call_1", "add", '{"a": 1, "b": 2}')
    ledger.intend(call)
    ledger.claim("call_1")
    d = drive(tools=calc_tools)
    script = Script().add(run("requires_action", calls=[("call_1", "add", call.arguments)]))
    result = script.play(d.resume(lc, ledger, started={"call_1"}, unfinished={"call_1"}))
    assert result.ending.kind is EndingKind.HELD
    assert result.ending.detail == "call_1"
    assert calc_tools.runs["add"] == 0
    assert result.ledger.state_of("call_1") is CallState.UNKNOWN_EFFECT
    assert "submit" not in script.ops()


def test_not_created_closes_the_intent() -> None:
    d = drive(run_id="", durable=True)
    script = Script().add(ok({"object": "list", "data": [run_body("completed", run_id="run_x")]}))
    result = script.play(d.adopt_create("op_1"))
    assert result.ending.kind is EndingKind.NOT_CREATED
    assert [r for r in script.log if isinstance(r, BindCreate)] == [BindCreate("op_1", "")]


@pytest.mark.parametrize("status", [401, 500])
def test_an_unknown_create_whose_lookup_fails_stays_open(status: int) -> None:
    """Found by the controller's state machine: recovering a create whose answer was lost, the
    run list failed past its retries (the overall deadline had passed while the process was
    down) and ``recover()`` raised, losing the outcomes of the runs after it. Whether the create
    got in is still unknown: the drive ends ``outcome_unknown`` and leaves the intent open for
    the next ``recover()`` (no bind, no close). A 401 is not looked at again; a 500 is, until
    the overall deadline."""
    retry = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.05)
    d = drive(run_id="", durable=True, retry=retry, overall_timeout_s=1.0)
    script = Script().add(*([http_error(status)] * 200))
    result = script.play(d.adopt_create("op_1"))
    assert (result.ending.kind, result.ending.detail) == (EndingKind.OUTCOME_UNKNOWN, "create")
    assert not [r for r in script.log if isinstance(r, BindCreate | CloseRun)]
    lookups = script.ops().count("list_runs")
    assert lookups == 1 if status == 401 else 4 <= lookups < 200
    assert set(script.ops()) == {"list_runs"}
    (note,) = [n for n in script.emitted(Notice) if n.message == "unknown create not looked up"]
    assert note.fields["error"] == f"http_{status}"


def test_interrupted_sends_one_cancel_then_finishes() -> None:
    """After a local interruption (the task driving the run was cancelled while it slept) the
    driver pumps ``interrupted()``: one cancel, no retry, and the store closes the run."""
    d = drive(durable=True)
    script = Script().add(run("in_progress"))
    flow = d.attach()
    request = next(flow)
    while not isinstance(request, Sleep):
        request = flow.send(script.reply(request))
    flow.close()
    after = Script().add(run("cancelling"))
    result = after.play(d.interrupted())
    assert after.ops() == ["cancel"]
    assert result.ending.kind is EndingKind.INTERRUPTED
    assert result.cancel_requested
    assert [r.reason for r in after.log if isinstance(r, CloseRun)] == ["interrupted"]


@pytest.mark.parametrize("status", [503, 429])
def test_interrupted_gives_up_after_one_failed_cancel(status: int) -> None:
    """One attempt only, whatever the failure (a 429 is not waited out), bounded in time."""
    d = drive()
    flow = d.attach()
    script = Script().add(run("in_progress"))
    request = next(flow)
    flow.send(script.reply(request))
    flow.close()
    after = Script().add(http_error(status, **{"retry-after": "30"}))
    result = after.play(d.interrupted())
    assert after.ops() == ["cancel"]
    assert after.sleeps() == []
    assert after.calls()[0].http.timeout == d.config.interrupt_cancel_s
    assert result.ending.kind is EndingKind.INTERRUPTED


# -- creating -------------------------------------------------------------------------------------


def test_a_create_refused_by_the_server_closes_its_intent_and_raises() -> None:
    d = drive(run_id="", durable=True)
    with pytest.raises(CallFailed) as info:
        Script().add(http_error(400)).play(d.create({"assistant_id": "asst_1"}))
    assert info.value.failure.status == 400


def test_a_create_whose_outcome_stays_unknown_leaves_its_intent_open() -> None:
    """Lost answers and no run carrying the op id: the caller gets the failure, the intent is
    not closed, so ``recover()`` can still find the run later."""
    d = drive(run_id="", durable=True, retry=_quick(2))
    empty = ok({"object": "list", "data": []})
    script = Script().add(http_error(500), empty, http_error(500), empty)
    with pytest.raises(CallFailed):
        script.play(d.create({"assistant_id": "asst_1"}))
    assert not [r for r in script.log if isinstance(r, BindCreate)]


def test_a_garbled_create_answer_is_looked_up_by_its_op_id() -> None:
    """A 2xx whose body is not a run: the run is found by ``metadata.op_id`` before anything
    is sent again."""
    d = drive(run_id="")

    def listed(call: object) -> object:
        return ok({"object": "list", "data": [run_body("queued", metadata={"op_id": "op_7"})]})

    script = Script().add(ok(b"<html>busy</html>"), listed, run("completed"))
    result = script.play(d.create({"assistant_id": "asst_1"}, op_id="op_7"))
    assert result.ending.status == "completed"
    assert script.ops().count("create") == 1


# -- garbage on the wire ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "run_',  # malformed JSON
        b"<!doctype html><html><body>502 Bad Gateway</body></html>",
        b"[]",
        b'{"id": "run_1", "object": "thread.run"}',  # no status
        b'{"id": "run_1", "status": "requires_action", "required_action": {"submit_tool_outputs"'
        b': {"tool_calls": [{"type": "function"}]}}}',  # a call without id or function
        b"null",
    ],
)
def test_a_poll_that_answers_garbage_is_a_lost_observation(body: bytes) -> None:
    """A 200 whose body is not a run: nothing raises, nothing moves, polling goes on."""
    d = drive()
    script = Script().add(run("queued"), ok(body), run("completed"))
    result = script.play(d.attach())
    assert result.ending.status == "completed"
    assert [e.dest for e in result.history] == ["in_progress", "completed"]


# -- streaming -------------------------------------------------------------------------------------


def test_a_stream_request_answered_with_json_falls_back_to_polling_that_run() -> None:
    """A server that ignores ``stream=true``: the created run is followed by polling."""
    d = drive(run_id="", stream=True)
    script = Script().add(run("queued"), run("completed"))
    result = script.play(d.create({"assistant_id": "asst_1"}))
    assert result.ending.status == "completed"
    assert result.stream_fallbacks == 1
    assert script.calls()[0].http.stream
    assert not any(c.http.stream for c in script.calls()[1:])


def test_a_dropped_stream_falls_back_to_polling() -> None:
    d = drive(run_id="", stream=True)
    script = Script().add(StreamOpened("s1"), run("completed"))
    script.events.extend(
        [
            SseEvent("thread.run.created", run_body("queued")),
            Failure(FailureKind.STREAM, message="dropped"),
        ]
    )
    result = script.play(d.create({"assistant_id": "asst_1"}))
    assert result.ending.status == "completed"
    assert result.stream_fallbacks == 1
    assert result.run_id == RUN


def test_an_unknown_stream_status_is_an_anomaly_not_a_crash() -> None:
    d = drive(run_id="", stream=True)
    script = Script().add(StreamOpened("s1"))
    script.events.extend(
        [
            SseEvent("thread.run.created", run_body("queued")),
            SseEvent("thread.run.paused_for_review", run_body("paused_for_review")),
            SseEvent("thread.run.completed", run_body("completed")),
        ]
    )
    result = script.play(d.create({"assistant_id": "asst_1"}))
    assert result.ending.status == "completed"
    assert [a.kind for a in result.anomalies] == ["unknown_status"]


def _quick(attempts: int) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, base_s=0.001, cap_s=0.001)
