"""The kernel driving a Responses background chain, pumped with scripted replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lifecycle import CallState
from lifecycle.kernel import (
    ApiCall,
    CallFailed,
    EndingKind,
    Failure,
    FailureKind,
    ResponsesBinding,
    SseEvent,
    StreamOpened,
    output_text,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import Script, chain_drive, ok

CALL = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "add",
        "arguments": '{"a": 1, "b": 2}', "status": "completed"}  # fmt: skip


def response(
    status: str, rid: str = "resp_1", output: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": rid,
        "object": "response",
        "status": status,
        "background": True,
        "model": "gpt-test",
        "instructions": "be brief",
        "tools": [{"type": "function", "name": "add"}],
        "output": output or [],
        "metadata": {"op_id": "op_1"},
        **extra,
    }


def answer(text: str) -> list[dict[str, Any]]:
    return [{"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
             "content": [{"type": "output_text", "text": text, "annotations": []}]}]  # fmt: skip


ARGS = {"model": "gpt-test", "input": "add 1 and 2", "instructions": "be brief",
        "tools": [{"type": "function", "name": "add"}]}  # fmt: skip


def test_a_tool_round_is_answered_by_the_next_background_response(
    calc_tools: CountingTools,
) -> None:
    d = chain_drive(calc_tools)
    script = Script().add(
        ok(response("queued")),
        ok(response("completed", output=[CALL])),
        ok(response("queued", rid="resp_2")),  # the next response
        ok(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "completed"
    assert result.object_ids == ("resp_1", "resp_2")
    assert calc_tools.runs["add"] == 1
    first, _, nxt, last = script.calls()
    assert first.http.body is not None
    assert first.http.body["background"] is True
    assert first.http.body["input"] == "add 1 and 2"
    assert first.http.body["metadata"] == {"op_id": "op_1"}
    assert nxt.op == "submit"
    assert nxt.http.path == "/responses"
    body = nxt.http.body
    assert body is not None
    assert body["previous_response_id"] == "resp_1"
    assert body["input"] == [{"type": "function_call_output", "call_id": "call_1", "output": "3"}]
    assert (body["model"], body["instructions"], body["background"]) == (
        "gpt-test",
        "be brief",
        True,
    )
    assert body["tools"] == ARGS["tools"]
    assert last.http.path == "/responses/resp_2"
    assert [(e.source, e.dest, e.via) for e in result.history] == [
        ("queued", "in_progress", "poll"),
        ("in_progress", "requires_action", "poll"),
        ("requires_action", "queued", "client"),
        ("queued", "in_progress", "poll"),
        ("in_progress", "completed", "poll"),
    ]
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert output_text(result.payload) == "3"


def test_a_lost_first_create_is_never_resent() -> None:
    """No responses.list and no idempotency key: a lost create answer raises, once."""
    d = chain_drive()
    script = Script().add(Failure(FailureKind.TIMEOUT, message="read timeout"))
    with pytest.raises(CallFailed) as info:
        script.play(d.create(ARGS, op_id="op_1"))
    assert info.value.failure.kind is FailureKind.TIMEOUT
    assert script.ops() == ["create"]


def test_a_lost_next_response_ends_the_drive_outcome_unknown(calc_tools: CountingTools) -> None:
    """The answer to the next response's create is lost: it may exist; nothing is resent, the
    drive ends ``outcome_unknown`` (the ledger says why each output's fate is unknown)."""
    d = chain_drive(calc_tools)
    script = Script().add(
        ok(response("completed", output=[CALL])),
        Failure(FailureKind.CONNECTION, message="dropped"),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.OUTCOME_UNKNOWN
    assert result.ending.detail == "submit"
    assert script.ops() == ["create", "submit"]
    assert result.ledger.entries["call_1"].reason == "outcome_unknown"
    assert calc_tools.runs["add"] == 1


@pytest.mark.parametrize("stream", [False, True], ids=["poll", "stream"])
def test_a_next_response_whose_id_never_arrives_ends_outcome_unknown(
    calc_tools: CountingTools, stream: bool
) -> None:
    """The next response was accepted (2xx) but its answer is garbage (or its stream dies
    before naming it): the drive cannot follow it, and must not poll the previous response
    (completed with the calls it already answered) until a deadline."""
    d = chain_drive(calc_tools)
    d.streaming = stream
    script = Script().add(
        ok(response("completed", output=[CALL])),
        StreamOpened("h1") if stream else ok(b"<html>bad gateway</html>"),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.OUTCOME_UNKNOWN
    assert result.ending.detail == "next_response"
    assert script.ops() == ["create", "submit"]
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert calc_tools.runs["add"] == 1


def test_an_output_an_earlier_drive_submitted_is_never_sent_again(
    calc_tools: CountingTools,
) -> None:
    """After a crash, the effect log says the output was submitted and the ledger never saw it
    delivered: the next response may exist. The resumed drive sends nothing."""
    first = chain_drive(calc_tools)
    script = Script().add(ok(response("completed", output=[CALL])))
    flow = first.create(ARGS, op_id="op_1")
    script.play_until(flow, "submit")
    flow.close()  # the process died with the submit in flight
    second = chain_drive(calc_tools)
    second.run_id = "resp_1"
    rest = Script().add(ok(response("completed", output=[CALL])))
    result = rest.play(second.resume(first.lc, first.ledger, op_id="op_1", submitted={"call_1"}))
    assert result.ending.kind is EndingKind.OUTCOME_UNKNOWN
    assert result.ending.detail == "submit"
    assert "submit" not in rest.ops()
    assert calc_tools.runs["add"] == 1


def test_a_cancel_while_the_chain_waits_needs_no_request() -> None:
    """The chain waits for the client (the response completed): ending it is local."""
    d = chain_drive(max_tool_rounds=1)  # no tool registered: the round is answered with errors
    second = {**CALL, "id": "fc_2", "call_id": "call_2"}
    script = Script().add(
        ok(response("completed", output=[CALL])),
        ok(response("completed", rid="resp_2", output=[second])),  # the model asks again
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.deadline == "tool_round_limit"
    assert result.ending.status == "cancelled"
    assert "cancel" not in script.ops()
    assert result.history[-1].dest == "cancelled"
    assert result.history[-1].via == "client"


def test_a_live_response_is_cancelled_straight_to_cancelled() -> None:
    d = chain_drive(deadlines={"queued": 1.0})

    def answer_by_op(call: ApiCall) -> object:
        return ok(response("cancelled" if call.op == "cancel" else "queued"))

    script = Script().add(*[answer_by_op] * 20)
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.DEADLINE
    assert result.ending.status == "cancelled"
    assert script.calls()[-1].http.path == "/responses/resp_1/cancel"


def test_a_cancel_that_loses_the_race_is_reported_not_raised() -> None:
    """The response completed before the cancel took: the chain ends completed, the cancel
    lost its race."""
    d = chain_drive()
    d.run_id = "resp_1"
    script = Script().add(
        ok(response("in_progress")), ok(response("completed", output=answer("ok")))
    )
    result = script.play(d.cancel())
    assert result.ending.status == "completed"
    assert result.cancel_lost_race
    assert script.ops() == ["retrieve", "cancel"]


def test_a_dropped_stream_resumes_after_its_last_sequence_number() -> None:
    d = chain_drive(stream=True)
    script = Script().add(StreamOpened("s1"), StreamOpened("s2"))

    def event(kind: str, seq: int, status: str | None = None) -> SseEvent:
        data: dict[str, Any] = {"type": kind, "sequence_number": seq}
        if status is not None:
            data["response"] = response(
                status, output=answer("ok") if status == "completed" else []
            )
        return SseEvent(kind, data)

    script.events.extend(
        [
            event("response.created", 0, "queued"),
            event("response.in_progress", 1, "in_progress"),
            event("response.output_text.delta", 2),
            Failure(FailureKind.STREAM, message="dropped"),
            event("response.output_text.delta", 3),
            event("response.completed", 4, "completed"),
        ]
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.status == "completed"
    assert result.stream_fallbacks == 0
    resume = script.calls()[1]
    assert resume.http.path == "/responses/resp_1"
    assert dict(resume.http.query) == {"stream": "true", "starting_after": 2}
    assert resume.http.stream


def test_the_chain_resumed_without_its_create_arguments_reads_them_from_the_last_response(
    calc_tools: CountingTools,
) -> None:
    """After a restart the binding has no create arguments: the next response copies model,
    instructions and tools from the response it answers."""
    from lifecycle import RESPONSE_CHAIN, RunLifecycle, ToolLedger

    d = chain_drive(calc_tools)
    script = Script().add(
        ok(response("completed", output=[CALL])), ok(response("completed", rid="resp_2"))
    )
    d.run_id = "resp_1"
    result = script.play(d.resume(RunLifecycle(RESPONSE_CHAIN), ToolLedger(), op_id="op_1"))
    assert result.ending.status == "completed"
    nxt = script.calls()[1].http.body
    assert nxt is not None
    assert (nxt["model"], nxt["instructions"]) == ("gpt-test", "be brief")
    assert json.dumps(nxt["tools"]) == json.dumps([{"type": "function", "name": "add"}])


def test_an_older_status_after_a_newer_one_is_an_anomaly_not_acted_on(
    calc_tools: CountingTools,
) -> None:
    """A retrieve that answers an older status (queued after in_progress) is a stale read: an
    anomaly in the journal, no move, no request because of it; the chain goes on."""
    d = chain_drive(calc_tools)
    script = Script().add(
        ok(response("in_progress")),
        ok(response("queued")),  # stale: a replica behind the one that said in_progress
        ok(response("completed", output=answer("done"))),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "completed"
    assert [(e.source, e.dest) for e in result.history] == [
        ("queued", "in_progress"),
        ("in_progress", "completed"),
    ]
    assert [(a.observed, a.state) for a in result.anomalies] == [("queued", "in_progress")]
    assert [c.op for c in script.calls()] == ["create", "retrieve", "retrieve"]


def test_a_replay_of_the_answered_response_on_the_next_ones_read_is_not_a_new_round(
    calc_tools: CountingTools,
) -> None:
    """The next response's retrieve answers with the previous response (the round we already
    answered, another id): a stale read across responses. No new round, no second create, the
    tool never runs again; the next read goes on with the response we follow."""
    d = chain_drive(calc_tools)
    script = Script().add(
        ok(response("completed", output=[CALL])),
        ok(response("queued", rid="resp_2")),  # the next response
        ok(response("completed", output=[CALL])),  # resp_1 again, on resp_2's read
        ok(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "completed"
    assert result.object_ids == ("resp_1", "resp_2")
    assert calc_tools.runs["add"] == 1
    assert [c.op for c in script.calls()] == ["create", "submit", "retrieve", "retrieve"]
    assert result.anomalies, "the replayed response is recorded"


def test_a_resumed_round_waits_for_a_readable_response_before_answering(
    calc_tools: CountingTools,
) -> None:
    """A chain saved while it waited for its tools is resumed, and the first read answers
    garbage: nothing is sent until a read shows the response (the next create copies its
    arguments from it), then the round is answered once."""
    from lifecycle import RESPONSE_CHAIN, RunLifecycle, ToolLedger

    waiting = ResponsesBinding().parse(json.dumps(response("completed", output=[CALL])).encode())
    assert not isinstance(waiting, Failure)
    lc = RunLifecycle(RESPONSE_CHAIN)
    lc.observe("in_progress")
    lc.observe(waiting.status, tool_calls=waiting.tool_calls)
    assert lc.awaiting_client
    lc.take_commands()
    d = chain_drive(calc_tools)
    d.run_id = "resp_1"
    script = Script().add(
        ok(b"<html>502 Bad Gateway</html>"),  # the first read: garbage
        ok(response("completed", output=[CALL])),
        ok(response("queued", rid="resp_2")),
        ok(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = script.play(d.resume(lc, ToolLedger(), op_id="op_1"))
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "completed"
    assert [c.op for c in script.calls()] == ["retrieve", "retrieve", "submit", "retrieve"]
    nxt = script.calls()[2].http.body
    assert nxt is not None
    assert (nxt["model"], nxt["instructions"]) == ("gpt-test", "be brief")
    assert calc_tools.runs["add"] == 1
