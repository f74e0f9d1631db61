"""Gaps found by mutation testing in the tool ledger (issue 14; docs/mutation.md): reprs hide
model text and outputs, every field of an output is recorded and given back, unknown ids and
already-settled entries are skipped without stopping a batch, and the moves of an approval
decision and a settlement leave exactly the documented fields."""

from __future__ import annotations

import json

import pytest

from lifecycle import CallState, ToolCall, ToolLedger, ToolOutput

SECRET_ARGS = '{"card": "4111-1111-1111-1111"}'
SECRET_OUT = "charged card 4111-1111-1111-1111"


def _ledger(*ids: str) -> ToolLedger:
    ledger = ToolLedger()
    for cid in ids or ("c1",):
        ledger.intend(ToolCall(cid, "charge", SECRET_ARGS))
    return ledger


def _done(ledger: ToolLedger, cid: str, output: ToolOutput | None = None) -> None:
    assert ledger.claim(cid)
    ledger.record(output or ToolOutput(cid, "ok", "ok"), executed=True)


def test_an_entry_repr_shows_sizes_of_model_text_and_outputs_only() -> None:
    """Arguments, output, full output and late output appear as sizes; the rest as values."""
    ledger = _ledger()
    assert ledger.claim("c1")
    ledger.record(ToolOutput("c1", SECRET_OUT, SECRET_OUT + "!"), executed=True, timed_out=True)
    ledger.record_late(ToolOutput("c1", SECRET_OUT, SECRET_OUT + "?"))
    text = repr(ledger.entries["c1"])
    assert "4111" not in text
    assert f"arguments='<{len(SECRET_ARGS)} chars>'" in text
    assert f"output='<{len(SECRET_OUT)} chars>'" in text
    assert f"full_output='<{len(SECRET_OUT) + 1} chars>'" in text
    assert f"late_output='<{len(SECRET_OUT) + 1} chars>'" in text
    assert "name='charge'" in text
    assert "tool_call_id='c1'" in text
    assert "4111" not in repr(ledger)


def test_record_keeps_every_field_of_the_output_and_to_output_gives_them_back() -> None:
    """Output, full output, error and truncation are recorded and returned as they came."""
    ledger = _ledger("c1", "c2")
    failed = ToolOutput("c1", "capped", "the whole error text", error="tool_error", truncated=True)
    assert ledger.claim("c1")
    ledger.record(failed, executed=True)
    entry = ledger.entries["c1"]
    assert (entry.output, entry.full_output, entry.error, entry.truncated) == (
        "capped",
        "the whole error text",
        "tool_error",
        True,
    )
    assert entry.state is CallState.FAILED
    assert ledger.output_for("c1") == failed
    # an entry saved without its full output gives the submitted text as the whole output
    ledger.entries["c2"].output = "short"
    assert ledger.output_for("c2") == ToolOutput("c2", "short", "short")
    assert ledger.output_for("nope") is None


def test_state_of_an_unknown_id_is_none() -> None:
    """No entry: ``None``, not an error."""
    assert _ledger().state_of("nope") is None


def test_unknown_ids_in_a_batch_are_skipped_and_the_rest_still_moves() -> None:
    """delivered(), undelivered() and record_late() take ids the ledger never saw in stride."""
    ledger = _ledger("c1", "c2")
    _done(ledger, "c1")
    ledger.record_late(ToolOutput("nope", "x", "x"))
    ledger.delivered(["nope", "c1"])
    assert ledger.state_of("c1") is CallState.DELIVERED
    ledger.undelivered(["nope", "c2"], reason="expired")
    assert ledger.state_of("c2") is CallState.UNDELIVERED
    assert ledger.entries["c2"].reason == "expired"


def test_a_late_entry_in_a_batch_does_not_stop_the_others_from_being_delivered() -> None:
    """A call already counted late is skipped; the calls after it are delivered."""
    ledger = _ledger("late", "c2")
    assert ledger.claim("late")
    ledger.record(
        ToolOutput("late", "timeout", "timeout", error="tool_timeout"),
        executed=True,
        timed_out=True,
    )
    ledger.record_late(ToolOutput("late", "real", "real"))
    assert ledger.entries["late"].reason == "late"
    _done(ledger, "c2")
    ledger.delivered(["late", "c2"])
    assert ledger.state_of("late") is CallState.EXECUTED_UNDELIVERED
    assert ledger.state_of("c2") is CallState.DELIVERED


def test_a_given_up_output_delivered_later_has_no_reason_left() -> None:
    """undelivered (reason kept), then delivered by a later drive: the reason is ``None``."""
    ledger = _ledger("c1", "c2")
    _done(ledger, "c1")
    ledger.undelivered(["c1", "c2"], reason="expired")
    ledger.delivered(["c1", "c2"])
    for cid in ("c1", "c2"):
        assert ledger.state_of(cid) is CallState.DELIVERED
        assert ledger.entries[cid].reason is None


def test_a_second_late_result_does_not_replace_the_first() -> None:
    """record_late keeps the first late output."""
    ledger = _ledger()
    assert ledger.claim("c1")
    ledger.record(ToolOutput("c1", "t", "t", error="tool_timeout"), executed=True, timed_out=True)
    ledger.record_late(ToolOutput("c1", "first", "first"))
    ledger.record_late(ToolOutput("c1", "second", "second"))
    assert ledger.entries["c1"].late_output == "first"


def test_reopen_and_run_again_leave_executed_false() -> None:
    """A reopened claim and a settled run_again are not executed (``False``, not falsy)."""
    ledger = _ledger("c1", "c2")
    assert ledger.claim("c1")
    ledger.reopen("c1")
    assert ledger.entries["c1"].executed is False
    assert ledger.claim("c2")
    ledger.mark_unknown("c2")
    ledger.settle("c2", "run_again")
    entry = ledger.entries["c2"]
    assert (entry.state, entry.executed, entry.reason) == (CallState.INTENDED, False, None)


def test_settling_failed_without_an_output_records_a_json_tool_error_for_this_call() -> None:
    """The default error output: JSON naming a tool_error, for this call, whole."""
    ledger = _ledger()
    assert ledger.claim("c1")
    ledger.mark_unknown("c1")
    ledger.settle("c1", "failed")
    entry = ledger.entries["c1"]
    assert (entry.state, entry.reason, entry.error) == (CallState.FAILED, None, "tool_error")
    output = ledger.output_for("c1")
    assert output is not None
    assert output.tool_call_id == "c1"
    assert output.output == output.full_output
    assert json.loads(output.output)["error"]["type"] == "tool_error"
    assert json.loads(output.output)["error"]["message"]


def test_settling_done_without_an_output_is_refused_and_changes_nothing() -> None:
    """``done`` needs the output the effect returned."""
    ledger = _ledger()
    assert ledger.claim("c1")
    ledger.mark_unknown("c1")
    with pytest.raises(ValueError, match="needs the output"):
        ledger.settle("c1", "done")
    assert ledger.state_of("c1") is CallState.UNKNOWN_EFFECT


@pytest.mark.parametrize(
    ("kind", "state"), [("function", CallState.REJECTED), ("mcp_approval", CallState.FINISHED)]
)
def test_a_decision_with_an_output_rejects_a_tool_and_answers_an_mcp_request(
    kind: str, state: CallState
) -> None:
    """A rejected tool is ``rejected`` (answered, never run); an MCP request is ``finished``."""
    ledger = ToolLedger()
    ledger.intend(ToolCall("c1", "remote", "{}", kind=kind))
    answer = ToolOutput("c1", "decision", "decision", error=None)
    ledger.decide("c1", kind != "function", answer)
    assert ledger.state_of("c1") is state
    assert ledger.output_for("c1") == answer


def test_a_call_intended_without_a_round_is_in_round_one() -> None:
    entry = ToolLedger().intend(ToolCall("call_1", "add", "{}"))
    assert entry.round == 1
