"""The approval gate: calls that need a yes first, asked through one hook, for Assistants runs
and Responses chains (function tools and MCP approval requests)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lifecycle import ApprovalRequest, CallState, Decision
from lifecycle.kernel import AskApproval, EndingKind, RunTools
from tests.kernel.conftest import CountingTools
from tests.kernel.script import Script, chain_drive, drive, run
from tests.kernel.script import ok as ok_body
from tests.kernel.test_responses import ARGS, CALL, answer, response

CHARGE = ("call_1", "charge", '{"cents": 500}')
LOOKUP = ("call_2", "lookup", '{"sku": "A"}')


@pytest.fixture
def gated() -> CountingTools:
    """``charge`` always needs approval; ``refund`` only above 100 cents; ``lookup`` never."""
    tools = CountingTools()

    @tools.tool(needs_approval=True)
    def charge(cents: int) -> str:
        """Charge the card."""
        tools.runs["charge"] += 1
        return f"charged {cents}"

    @tools.tool(needs_approval=lambda cents: cents > 100)
    def refund(cents: int) -> str:
        """Refund."""
        tools.runs["refund"] += 1
        return f"refunded {cents}"

    @tools.tool
    def lookup(sku: str) -> str:
        """Look a price up."""
        tools.runs["lookup"] += 1
        return "9.99"

    return tools


class Hook:
    """An approval hook that answers from a table and remembers what it was asked."""

    def __init__(self, **answers: Decision | None) -> None:
        self.answers = answers
        self.asked: list[ApprovalRequest] = []

    def __call__(self, request: ApprovalRequest) -> Decision | None:
        self.asked.append(request)
        return self.answers.get(request.call_id)


def submitted(script: Script) -> list[dict[str, Any]]:
    (call,) = [c for c in script.calls() if c.op == "submit"]
    assert call.http.body is not None
    outputs: list[dict[str, Any]] = call.http.body["tool_outputs"]
    return outputs


def test_an_approved_call_runs_once_and_is_submitted(gated: CountingTools) -> None:
    hook = Hook(call_1=Decision.approve())
    script = Script(approver=hook).add(
        run("requires_action", calls=[CHARGE]), run("queued"), run("completed")
    )
    result = script.play(drive(tools=gated).attach())
    assert result.ending.status == "completed"
    assert gated.runs["charge"] == 1
    (asked,) = hook.asked
    assert (asked.call_id, asked.name, asked.kind, asked.run_id) == (
        "call_1",
        "charge",
        "function",
        "run_1",
    )
    assert json.loads(asked.arguments) == {"cents": 500}
    assert submitted(script) == [{"tool_call_id": "call_1", "output": "charged 500"}]
    entry = result.ledger.entries["call_1"]
    assert (entry.state, entry.approval) == (CallState.DELIVERED, "approved")
    # the hook is asked before anything of the round runs
    kinds = script.kinds()
    assert kinds.index("AskApproval") < kinds.index("RunTools")


def test_a_rejected_call_never_runs_and_the_model_sees_why(gated: CountingTools) -> None:
    hook = Hook(call_1=Decision.reject("over the limit; token=abc123"))
    script = Script(approver=hook).add(
        run("requires_action", calls=[CHARGE]), run("queued"), run("completed")
    )
    result = script.play(drive(tools=gated).attach())
    assert gated.runs["charge"] == 0
    (out,) = submitted(script)
    error = json.loads(out["output"])["error"]
    assert error["type"] == "not_approved"
    assert "over the limit" in error["message"]
    assert "abc123" not in error["message"]  # a reason is redacted like any output
    entry = result.ledger.entries["call_1"]
    assert (entry.state, entry.approval, entry.executed) == (
        CallState.DELIVERED,
        "rejected",
        False,
    )
    assert not any(isinstance(r, RunTools) for r in script.log)


def test_an_undecided_call_holds_the_round_and_nothing_of_it_runs(gated: CountingTools) -> None:
    """One call waits for a decision: neither it nor the round's other call runs, nothing is
    submitted; the drive ends held with the pending ids, and says so in the ledger."""
    script = Script(approver=Hook()).add(run("requires_action", calls=[CHARGE, LOOKUP]))
    result = script.play(drive(tools=gated).attach())
    assert result.ending.kind is EndingKind.HELD
    assert result.ending.detail == "approval:call_1"
    assert result.ending.status == "requires_action"
    assert gated.runs == {}
    assert "submit" not in script.ops()
    assert result.ledger.awaiting_approval() == ("call_1",)
    assert result.ledger.entries["call_2"].approval is None


def test_driving_a_held_run_again_asks_only_about_the_undecided_calls(
    gated: CountingTools,
) -> None:
    """A decision taken before the hold stands (never asked again); the next drive asks about
    the pending call only, then runs the round once."""
    both = [CHARGE, ("call_3", "refund", '{"cents": 900}')]
    first = Script(approver=Hook(call_3=Decision.approve())).add(run("requires_action", calls=both))
    d1 = drive(tools=gated)
    held = first.play(d1.attach())
    assert held.ending.detail == "approval:call_1"
    assert held.ledger.entries["call_3"].approval == "approved"
    hook = Hook(call_1=Decision.approve())
    second = Script(approver=hook).add(
        run("requires_action", calls=both), run("queued"), run("completed")
    )
    result = second.play(drive(tools=gated).resume(d1.lc, held.ledger))
    assert [r.call_id for r in hook.asked] == ["call_1"]
    assert result.ending.status == "completed"
    assert (gated.runs["charge"], gated.runs["refund"]) == (1, 1)


def test_a_predicate_decides_which_calls_need_approval(gated: CountingTools) -> None:
    small, large = ("call_4", "refund", '{"cents": 50}'), ("call_5", "refund", '{"cents": 500}')
    hook = Hook(call_5=Decision.approve())
    script = Script(approver=hook).add(
        run("requires_action", calls=[small, large]), run("queued"), run("completed")
    )
    script.play(drive(tools=gated).attach())
    assert [r.call_id for r in hook.asked] == ["call_5"]
    assert gated.runs["refund"] == 2


def test_a_predicate_that_raises_fails_closed() -> None:
    tools = CountingTools()

    @tools.tool(needs_approval=lambda cents: cents < 1 / 0)
    def refund(cents: int) -> str:
        """Refund."""
        tools.runs["refund"] += 1
        return "ok"

    script = Script().add(run("requires_action", calls=[("call_6", "refund", '{"cents": 1}')]))
    result = script.play(drive(tools=tools).attach())
    assert result.ending.kind is EndingKind.HELD
    assert tools.runs == {}


def test_a_watcher_never_asks_for_approval(gated: CountingTools) -> None:
    hook = Hook(call_1=Decision.approve())
    d = drive(tools=gated, deadlines={"requires_action": 1.0})
    d.observe_only = True
    script = Script(approver=hook).add(*[run("requires_action", calls=[CHARGE])] * 20)
    script.play(d.attach())
    assert hook.asked == []
    assert not any(isinstance(r, AskApproval) for r in script.log)


# -- Responses: function tools and MCP approval requests ---------------------------------------

MCP = {"type": "mcp_approval_request", "id": "mcpr_1", "server_label": "deepwiki",
       "name": "ask_question", "arguments": '{"repo": "openai/openai-python"}'}  # fmt: skip


@pytest.mark.parametrize("approved", [True, False])
def test_an_mcp_approval_request_is_answered_with_the_hooks_decision(approved: bool) -> None:
    """No local tool runs: the next response carries one ``mcp_approval_response``."""
    decision = Decision(approved, None if approved else "not this repo")
    hook = Hook(mcpr_1=decision)
    script = Script(approver=hook).add(
        ok_body(response("completed", output=[MCP])),
        ok_body(response("queued", rid="resp_2")),
        ok_body(response("completed", rid="resp_2", output=answer("done"))),
    )
    result = script.play(chain_drive().create(ARGS, op_id="op_1"))
    assert result.ending.status == "completed"
    (asked,) = hook.asked
    assert (asked.kind, asked.server_label, asked.name) == (
        "mcp_approval",
        "deepwiki",
        "ask_question",
    )
    nxt = next(c for c in script.calls() if c.op == "submit")
    assert nxt.http.body is not None
    expected: dict[str, Any] = {
        "type": "mcp_approval_response",
        "approval_request_id": "mcpr_1",
        "approve": approved,
    }
    if not approved:
        expected["reason"] = "not this repo"
    assert nxt.http.body["input"] == [expected]
    assert not any(isinstance(r, RunTools) for r in script.log)
    entry = result.ledger.entries["mcpr_1"]
    assert (entry.kind, entry.approval, entry.executed) == (
        "mcp_approval",
        "approved" if approved else "rejected",
        False,
    )


def test_a_chain_round_mixing_a_function_call_and_an_mcp_request(
    calc_tools: CountingTools,
) -> None:
    hook = Hook(mcpr_1=Decision.approve())
    script = Script(approver=hook).add(
        ok_body(response("completed", output=[CALL, MCP])),
        ok_body(response("completed", rid="resp_2", output=answer("3"))),
    )
    result = script.play(chain_drive(calc_tools).create(ARGS, op_id="op_1"))
    assert result.ending.status == "completed"
    assert calc_tools.runs["add"] == 1
    nxt = next(c for c in script.calls() if c.op == "submit")
    assert nxt.http.body is not None
    assert [i["type"] for i in nxt.http.body["input"]] == [
        "function_call_output",
        "mcp_approval_response",
    ]
