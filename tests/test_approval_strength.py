"""Gaps found by mutation testing in the approval values (issue 14; docs/mutation.md): what a
hook may answer, the rejection's error output and an MCP request's answer, field by field."""

from __future__ import annotations

import json

import pytest

from lifecycle import Decision
from lifecycle._approval import approval_answer, as_decision, rejection_output


def test_decision_constructors_set_approved_and_keep_the_reason() -> None:
    assert Decision.approve("fine") == Decision(True, "fine")
    assert Decision.reject("no") == Decision(False, "no")
    assert Decision.reject().approved is False
    assert Decision.approve().approved is True


def test_a_hook_may_answer_none_a_decision_or_a_bool_and_nothing_else() -> None:
    decision = Decision.reject("why")
    assert as_decision(None) is None
    assert as_decision(decision) is decision
    assert as_decision(True) == Decision(True)
    assert as_decision(False) == Decision(False)
    with pytest.raises(TypeError, match=r"not str$"):
        as_decision("yes")
    with pytest.raises(TypeError, match=r"not int$"):
        as_decision(1)


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (None, "the call was not approved"),
        ("", "the call was not approved"),
        ("over budget", "the call was not approved: over budget"),
        ("use token=abc123 instead", "the call was not approved: use token=[redacted] instead"),
    ],
)
def test_a_rejection_answers_this_call_with_a_not_approved_error(
    reason: str | None, message: str
) -> None:
    """The model sees the (redacted) reason after a colon, or no colon without one."""
    out = rejection_output("c1", Decision.reject(reason), 4000)
    assert (out.tool_call_id, out.error, out.truncated) == ("c1", "not_approved", False)
    assert json.loads(out.output) == {"error": {"type": "not_approved", "message": message}}


def test_a_rejection_reason_is_cut_at_300_characters() -> None:
    out = rejection_output("c1", Decision.reject("r" * 1000), 4000)
    assert json.loads(out.output)["error"]["message"] == "the call was not approved: " + "r" * 300


@pytest.mark.parametrize("approved", [True, False])
def test_an_mcp_answer_is_sorted_json_for_this_request(approved: bool) -> None:
    """``{"approve": ..., "reason": ...}`` (keys sorted, the reason redacted and cut); an
    approval is no error, a refusal is ``not_approved``."""
    out = approval_answer("mcpr_1", Decision(approved, "token=abc123 " + "x" * 400))
    assert out.tool_call_id == "mcpr_1"
    assert out.output == out.full_output
    assert out.output.index('"approve"') < out.output.index('"reason"')
    body = json.loads(out.output)
    assert body["approve"] is approved
    assert body["reason"] == ("token=[redacted] " + "x" * 400)[:300]
    assert out.error == (None if approved else "not_approved")
    assert json.loads(approval_answer("mcpr_1", Decision(approved)).output) == {"approve": approved}
