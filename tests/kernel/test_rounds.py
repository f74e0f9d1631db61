"""Tool rounds in the kernel: run once, submit once, never answer a stale round, reconcile a
submit whose answer was lost before anything is sent again."""

from __future__ import annotations

import json

from lifecycle import AnomalyKind, CallState
from lifecycle.kernel import (
    ApiCall,
    EndingKind,
    Failure,
    FailureKind,
    RecordEffect,
    RunTools,
    SaveRun,
)
from tests.kernel.conftest import CountingTools
from tests.kernel.script import RUN, Script, drive, http_error, ok, run

CALL = ("call_1", "add", '{"a": 1, "b": 2}')


def submits(script: Script) -> list[ApiCall]:
    return [c for c in script.calls() if c.op == "submit"]


def test_one_round_runs_the_tool_once_and_submits_every_output_once(
    calc_tools: CountingTools,
) -> None:
    d = drive(tools=calc_tools)
    script = Script().add(
        run("requires_action", calls=[CALL, ("call_2", "boom", "{}")]),
        run("queued"),
        run("completed"),
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.TERMINAL
    assert calc_tools.runs == {"add": 1, "boom": 1}
    (submit,) = submits(script)
    assert submit.mutating
    assert submit.http.body is not None
    outputs = {o["tool_call_id"]: o["output"] for o in submit.http.body["tool_outputs"]}
    assert outputs["call_1"] == "3"
    assert json.loads(outputs["call_2"])["error"]["type"] == "tool_error"
    assert {r.state for r in result.tool_calls} == {CallState.DELIVERED.value}


def test_a_stale_requires_action_after_our_submit_is_not_a_new_round(
    calc_tools: CountingTools,
) -> None:
    """After our accepted submit, a read replays requires_action with the same call ids: an
    anomaly, no submission (the server would answer 400), the tool never runs again, no round is
    invented in the journal."""
    d = drive(tools=calc_tools)
    script = Script().add(
        run("requires_action", calls=[CALL]),
        run("queued"),  # the submit's answer
        run("requires_action", calls=[CALL]),  # a stale replay
        run("in_progress"),
        run("completed"),
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "completed"
    assert len(submits(script)) == 1
    assert calc_tools.runs["add"] == 1
    rounds = [e for e in result.history if e.dest == "requires_action"]
    assert len(rounds) == 1
    assert [a.kind for a in result.anomalies] == [AnomalyKind.STALE_ROUND.value]


def test_requires_action_without_payload_then_failed_ends_with_the_servers_word() -> None:
    """requires_action without its payload, then the server says failed: the table has no
    requires_action -> failed edge (R17 is unobserved), so the lifecycle keeps its state and
    records the anomaly, but the drive ends at once with the server's status: no more polls,
    no cancel, no 600 s wait for the requires_action deadline."""
    d = drive()
    script = Script().add(
        run("requires_action"), run("failed", last_error={"code": "server_error"})
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.TERMINAL
    assert result.ending.status == "failed"
    assert result.ending.terminal
    assert result.ending.detail == "off_table"
    assert script.ops() == ["retrieve", "retrieve"]
    assert "cancel" not in script.ops()
    assert script.now < 1.0
    assert result.anomalies[-1].kind == AnomalyKind.REGRESSION.value
    assert str(result.lifecycle.state) == "requires_action"


def test_a_lost_submit_answer_is_reconciled_by_the_run_step_never_resent(
    calc_tools: CountingTools,
) -> None:
    """The submit's answer is lost (500): the run is read and its tool_calls step says the output
    got in; it is never sent again."""
    d = drive(tools=calc_tools)
    step = {
        "id": "step_1",
        "type": "tool_calls",
        "status": "completed",
        "step_details": {
            "type": "tool_calls",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "add", "output": "3"}}
            ],
        },
    }
    script = Script().add(
        run("requires_action", calls=[CALL]),
        http_error(500),  # the submit: applied, answer lost
        run("in_progress"),
        ok({"object": "list", "data": [step]}),
        run("completed"),
    )
    result = script.play(d.attach())
    assert len(submits(script)) == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED
    assert result.ending.status == "completed"


def test_a_lost_submit_that_did_not_get_in_is_sent_again_once(calc_tools: CountingTools) -> None:
    """The step lists the call without an output and the run still waits: resend, once."""
    d = drive(tools=calc_tools)
    pending = {
        "id": "step_1",
        "type": "tool_calls",
        "status": "in_progress",
        "step_details": {
            "tool_calls": [{"id": "call_1", "type": "function", "function": {"output": None}}]
        },
    }
    script = Script().add(
        run("requires_action", calls=[CALL]),
        Failure(FailureKind.CONNECTION, message="dropped"),
        run("requires_action", calls=[CALL]),
        ok({"object": "list", "data": [pending]}),
        run("queued"),  # the second submit's answer
        run("completed"),
    )
    result = script.play(d.attach())
    assert len(submits(script)) == 2
    assert calc_tools.runs["add"] == 1
    assert result.ledger.state_of("call_1") is CallState.DELIVERED


def test_effects_are_recorded_around_the_tool_batch_and_saved_first(
    calc_tools: CountingTools,
) -> None:
    """With a store: the claim is saved and ``started`` recorded before the tools run;
    ``finished`` after; the submit comes last."""
    d = drive(tools=calc_tools, durable=True)
    script = Script().add(run("requires_action", calls=[CALL]), run("queued"), run("completed"))
    script.play(d.attach())
    kinds = script.kinds()
    i_tools = kinds.index("RunTools")
    started = [
        i for i, r in enumerate(script.log) if isinstance(r, RecordEffect) and r.phase == "started"
    ]
    finished = [
        i for i, r in enumerate(script.log) if isinstance(r, RecordEffect) and r.phase == "finished"
    ]
    assert started
    assert max(started) < i_tools < min(finished) < kinds.index("submit")
    assert isinstance(script.log[started[0] - 1], SaveRun)


def test_a_late_tool_result_in_a_reply_lands_in_the_ledger(calc_tools: CountingTools) -> None:
    """A call that timed out reports its real result later; the next reply carries it, the
    ledger records it (executed_undelivered, ``late``) and it is saved."""
    d = drive(tools=calc_tools, durable=True)
    script = Script().add(run("requires_action", calls=[CALL]), run("queued"), run("completed"))

    def time_out(request: RunTools) -> list[object]:
        from lifecycle.kernel import ToolResult

        (prepared,) = request.items
        out = calc_tools.finish(prepared.call, timed_out=True)
        script.late.append(calc_tools.finish(prepared.call, "3"))
        return [ToolResult(out, timed_out=True)]

    script.tools = time_out  # type: ignore[assignment]
    result = script.play(d.attach())
    entry = result.ledger.entries["call_1"]
    assert entry.state is CallState.EXECUTED_UNDELIVERED
    assert entry.reason == "late"
    assert entry.late_output == "3"
    saves = [r for r in script.log if isinstance(r, SaveRun)]
    assert saves[-1].ledger.entries["call_1"].late_output == "3"


def test_the_round_limit_cancels_the_run(calc_tools: CountingTools) -> None:
    """A model that keeps asking: past ``max_tool_rounds`` the run is cancelled."""
    d = drive(tools=calc_tools, max_tool_rounds=1)
    second = ("call_2", "add", '{"a": 2, "b": 2}')
    script = Script().add(
        run("requires_action", calls=[CALL]),
        run("queued"),
        run("requires_action", calls=[second]),
        run("cancelling"),  # the cancel's answer
        run("cancelled"),
    )
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.DEADLINE
    assert result.ending.deadline == "tool_round_limit"
    assert result.ending.status == "cancelled"
    assert calc_tools.runs["add"] == 1
    assert "call_2" not in result.ledger.entries  # never run, never answered


def test_a_run_id_mismatch_is_a_lost_observation() -> None:
    """An answer about another run never moves this run's lifecycle."""
    d = drive()
    script = Script().add(run("completed", run_id="run_other"), run("completed"))
    result = script.play(d.attach())
    assert result.run_id == RUN
    assert script.ops() == ["retrieve", "retrieve"]


def test_a_call_whose_worker_died_is_an_unknown_effect_and_holds_the_round(
    calc_tools: CountingTools,
) -> None:
    """A distributed driver reports a tool call lost with its worker: the ledger marks it
    unknown, it is never run again, the round is neither answered nor re-run: held."""
    from lifecycle.kernel import ToolResult

    d = drive(tools=calc_tools, durable=True)
    script = Script().add(run("requires_action", calls=[CALL]))

    def lost(request: RunTools) -> list[ToolResult]:
        (prepared,) = request.items
        return [ToolResult(calc_tools.finish(prepared.call, timed_out=True), lost=True)]

    script.tools = lost
    result = script.play(d.attach())
    assert result.ending.kind is EndingKind.HELD
    assert result.ledger.state_of("call_1") is CallState.UNKNOWN_EFFECT
    assert "submit" not in script.ops()
    phases = [r.phase for r in script.log if isinstance(r, RecordEffect)]
    assert phases == ["started"]  # never "finished"
