"""Gaps found by mutation testing in the kernel's durability (issue 14; docs/mutation.md): the
store requests carry the right ids and phases (the create intent with its op id and scope, every
save with the run, the op id and nothing superseded on a run, a closed run with its id), nothing
is asked of a store when there is none, and resuming after a crash reconciles every call of the
ledger with the effect log, not only the first."""

from __future__ import annotations

import logging

from lifecycle import CallState, RunLifecycle, ToolCall, ToolLedger, ToolOutput
from lifecycle.kernel import (
    BeginCreate,
    BindCreate,
    CloseRun,
    EndingKind,
    Notice,
    RecordEffect,
    SaveRun,
    Sleep,
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
from tests.kernel.test_responses import ARGS, CALL, answer, response

STORE = (BeginCreate, BindCreate, CloseRun, RecordEffect, SaveRun)


def _store(script: Script) -> list[object]:
    return [r for r in script.log if isinstance(r, STORE)]


def test_a_durable_create_records_its_intent_with_op_id_and_scope_then_saves_the_run() -> None:
    d = drive(run_id="", durable=True)
    script = Script().add(ok(run_body("queued")), run("completed"))
    result = script.play(d.create({"assistant_id": "asst_1"}, op_id="op_7"))
    assert result.ending.status == "completed"
    begin = [r for r in script.log if isinstance(r, BeginCreate)]
    assert begin == [BeginCreate("op_7", THREAD)]
    saves = [r for r in script.log if isinstance(r, SaveRun)]
    assert saves
    assert {(s.run_id, s.scope, s.op_id, s.supersedes) for s in saves} == {
        (RUN, THREAD, "op_7", None)
    }
    assert saves[-1].snapshot.state == "completed"


def test_without_a_store_nothing_is_asked_of_one() -> None:
    d = drive(run_id="")
    script = Script().add(ok(run_body("queued")), run("in_progress"), http_error(404))
    script.play(d.create({"assistant_id": "asst_1"}, op_id="op_7"))
    assert _store(script) == []


def test_an_interrupted_durable_drive_closes_the_run_by_its_id() -> None:
    d = drive(durable=True)
    script = Script().add(run("in_progress"))
    flow = d.attach()
    request = next(flow)
    while not isinstance(request, Sleep):
        request = flow.send(script.reply(request))
    flow.close()
    after = Script().add(run("cancelling"))
    after.play(d.interrupted())
    assert [r for r in after.log if isinstance(r, CloseRun)] == [CloseRun(RUN, "interrupted")]


def test_no_intent_is_closed_for_a_drive_that_has_a_run() -> None:
    """abandon_create only for an intent without a run: a refused cancel of a known run does
    not bind its intent to no run."""
    d = drive(durable=True)
    d.op_id = "op_1"
    script = Script().add(run("in_progress"), http_error(401))
    script.play(d.cancel())
    assert [r for r in script.log if isinstance(r, BindCreate)] == []


def _crashed_ledger() -> ToolLedger:
    """Four calls as a crash left them: finished (its ``finished`` record lost), finished and
    recorded, started without an output, claimed but never started."""
    ledger = ToolLedger()
    for cid in ("done_lost", "done", "started", "claimed"):
        ledger.intend(ToolCall(cid, "add", '{"a": 1, "b": 2}'))
        assert ledger.claim(cid)
    for cid in ("done_lost", "done"):
        ledger.record(ToolOutput(cid, "3", "3"), executed=True)
    return ledger


def test_resuming_reconciles_every_call_with_the_effect_log(calc_tools: CountingTools) -> None:
    """A finished call whose ``finished`` record was lost gets it now (``recovered``), and only
    that one; a call started without an output is an unknown effect; a claim never started is
    intended again, whatever order the ledger holds them in. The unknown effect holds the
    drive; nothing runs."""
    lc = RunLifecycle()
    lc.observe("in_progress")
    calls = [ToolCall(c, "add", '{"a": 1, "b": 2}') for c in ("done_lost", "done", "started")]
    lc.observe("requires_action", tool_calls=calls)
    d = drive(tools=calc_tools, durable=True)
    script = Script().add(run("requires_action"))
    result = script.play(
        d.resume(
            lc,
            _crashed_ledger(),
            started={"done_lost", "done", "started"},
            unfinished={"done_lost", "started"},
        )
    )
    recovered = [r for r in script.log if isinstance(r, RecordEffect) and r.detail == "recovered"]
    assert recovered == [RecordEffect(RUN, "done_lost", "finished", "recovered")]
    ledger = result.ledger
    assert ledger.state_of("started") is CallState.UNKNOWN_EFFECT
    assert ledger.state_of("claimed") is CallState.INTENDED
    assert ledger.entries["claimed"].executed is False
    assert (result.ending.kind, result.ending.detail) == (EndingKind.HELD, "started")
    (held,) = [n for n in script.emitted(Notice) if n.message.startswith("tool calls with an")]
    assert held.level == logging.ERROR
    assert held.message == "tool calls with an unknown effect; not re-run, not submitted"
    assert list(held.fields["tool_call_ids"]) == ["started"]
    assert calc_tools.runs["add"] == 0


def test_a_chains_next_response_is_saved_superseding_the_previous_one(
    calc_tools: CountingTools,
) -> None:
    """One write saves resp_2 and closes resp_1 as superseded; no other save supersedes."""
    d = chain_drive(calc_tools, durable=True)
    script = Script().add(
        ok(response("queued")),
        ok(response("completed", output=[CALL])),
        ok(response("queued", rid="resp_2")),
        ok(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = script.play(d.create(ARGS, op_id="op_1"))
    assert result.ending.status == "completed"
    saves = [(s.run_id, s.supersedes) for s in script.log if isinstance(s, SaveRun)]
    assert ("resp_2", "resp_1") in saves
    assert [s for s in saves if s[1] is not None] == [("resp_2", "resp_1")]


def test_an_adopted_create_is_followed_to_its_end() -> None:
    """The intent's run is found by its op id: the drive follows it like any other."""
    d = drive(run_id="", durable=True)
    found = run_body("in_progress", metadata={"op_id": "op_1"})
    script = Script().add(ok({"object": "list", "data": [found]}), run("completed"))
    result = script.play(d.adopt_create("op_1"))
    assert (result.ending.kind, result.ending.status) == (EndingKind.TERMINAL, "completed")
    assert script.ops()[-1] == "retrieve"
    assert [r for r in script.log if isinstance(r, BindCreate)] == []


def test_an_output_an_earlier_drive_may_have_submitted_is_an_error_naming_it(
    calc_tools: CountingTools,
) -> None:
    """A chain resumed after a crash with the submit in flight: nothing is sent, and one error
    note names the outputs that will not be sent again."""
    first = chain_drive(calc_tools, durable=True)
    script = Script().add(ok(response("completed", output=[CALL])))
    flow = first.create(ARGS, op_id="op_1")
    script.play_until(flow, "submit")
    flow.close()
    submitted = [r for r in script.log if isinstance(r, RecordEffect) and r.phase == "submitted"]
    assert [(r.run_id, r.call_id) for r in submitted] == [("resp_1", "call_1")]
    second = chain_drive(calc_tools, run_id="resp_1")
    rest = Script().add(ok(response("completed", output=[CALL])))
    rest.play(second.resume(first.lc, first.ledger, op_id="op_1", submitted={"call_1"}))
    (note,) = [n for n in rest.emitted(Notice) if n.level == logging.ERROR]
    assert note.message == (
        "outputs an earlier drive submitted, with no answer on record; not sent again"
    )
    assert list(note.fields["tool_call_ids"]) == ["call_1"]
