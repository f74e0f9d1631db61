"""End to end: MCP approval requests through the approval gate, over loopback HTTP with the real
SDK, against the simulator's ``mcp-approval`` scenario (a ``deploy`` tool on the MCP server
``gitmcp``), sync and async: approve (the server runs the tool once), reject (it never runs, the
reason reaches the server), hold (nothing is created until a later drive or ``recover()`` says
yes)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.openai import ResponseOutcome
from adapters.simulator import (
    Answer,
    CallTools,
    ChainEntry,
    Fault,
    McpToolSpec,
    Queue,
    RequestApproval,
    Scenario,
    ToolCallSpec,
)
from adapters.simulator.scenarios import ORDER_ITEMS
from adapters.store import RunStore
from lifecycle import ApprovalRequest, Decision
from lifecycle.kernel import EndingKind
from tests.controller.conftest import AsyncDesk, Desk, Env, make_toolbox, open_env
from tests.controller.test_chains import Chains

SCENARIO = "mcp-approval"
DEPLOY_ARGS = {"repo": "acme/shop", "ref": "main", "environment": "production"}
DEPLOYED = "deployed acme/shop@main to production"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(sim_profile: str) -> Iterator[Env]:
    with open_env(sim_profile) as e:
        yield e


def desk_for(kind: str, decision: Decision | bool | None) -> Desk:
    return AsyncDesk(decision) if kind == "async" else Desk(decision)


def chains(kind: str, env: Env, desk: Desk, **settings: object) -> Chains:
    return Chains(kind, env, make_toolbox().registry, approver=desk, **settings)


def first_request(env: Env, response_id: str) -> str:
    """The id of the approval request the chain's first response ended with."""
    (request,) = env.sim.response_chain(response_id)[0].approval_requests
    return request.id


def assert_asked_about_deploy(desk: Desk, request_id: str) -> None:
    (asked,) = desk.asked
    assert (asked.call_id, asked.name, asked.kind, asked.server_label) == (
        request_id,
        "deploy",
        "mcp_approval",
        "gitmcp",
    )
    assert json.loads(asked.arguments) == DEPLOY_ARGS


@pytest.mark.parametrize("stream", [False, True], ids=["poll", "stream"])
def test_an_approved_mcp_tool_runs_once_on_the_server(kind: str, env: Env, stream: bool) -> None:
    desk = desk_for(kind, Decision.approve("release window"))
    out: ResponseOutcome = chains(kind, env, desk, stream=stream).run(SCENARIO)
    assert out.status == "completed"
    assert out.ok
    assert len(out.response_ids) == 2
    request_id = first_request(env, out.response_ids[0])
    assert_asked_about_deploy(desk, request_id)
    (call,) = out.tool_calls
    assert (call.id, call.name, call.kind, call.approval) == (
        request_id,
        "deploy",
        "mcp_approval",
        "approved",
    )
    (run,) = env.sim.mcp_runs()
    assert (run.approval_request_id, run.response_id, run.output) == (
        request_id,
        out.response_ids[1],
        DEPLOYED,
    )
    first, second = env.sim.response_chain(out.response_id)
    assert first.answered_by == (second.response_id,)
    (decision,) = second.decisions
    assert (decision.request.id, decision.approve, decision.reason) == (
        request_id,
        True,
        "release window",
    )
    assert second.outputs == ()  # no function_call_output was sent for the request
    assert decision.mcp_call_id == run.mcp_call_id
    assert out.output_text == f"Deployment: {DEPLOYED}."


def test_a_rejected_mcp_tool_never_runs_and_the_reason_reaches_the_server(
    kind: str, env: Env
) -> None:
    desk = desk_for(kind, Decision.reject("change freeze"))
    out = chains(kind, env, desk).run(SCENARIO)
    assert out.status == "completed"
    assert env.sim.mcp_runs() == []
    (call,) = out.tool_calls
    assert (call.kind, call.approval, call.error) == ("mcp_approval", "rejected", "not_approved")
    second: ChainEntry = env.sim.response_chain(out.response_id)[1]
    (decision,) = second.decisions
    assert (decision.approve, decision.reason, decision.mcp_call_id) == (
        False,
        "change freeze",
        None,
    )
    assert out.output_text == "Deployment: not approved: change freeze."


def test_an_undecided_mcp_request_holds_the_chain_until_a_drive_says_yes(
    kind: str, env: Env
) -> None:
    """No decision: the chain ends held and nothing is created; a later drive asks again,
    approves, creates the next response once, and the tool runs once."""
    out = chains(kind, env, desk_for(kind, None)).run(SCENARIO)
    assert out.ending.kind is EndingKind.HELD
    (first_id,) = out.response_ids
    request_id = first_request(env, first_id)
    assert out.ending.detail == f"approval:{request_id}"
    assert out.awaiting_approval == (request_id,)
    assert out.tool_calls[0].approval == "pending"
    assert env.sim.response_ids() == [first_id]
    assert env.sim.mcp_runs() == []
    desk = desk_for(kind, True)
    done = chains(kind, env, desk).call("drive", response_id=first_id)
    assert done.status == "completed"
    assert_asked_about_deploy(desk, request_id)
    assert done.response_ids == (first_id, done.response_ids[1])
    assert len(env.sim.response_ids()) == 2
    assert [run.approval_request_id for run in env.sim.mcp_runs()] == [request_id]
    assert done.awaiting_approval == ()
    assert done.output_text == f"Deployment: {DEPLOYED}."


def test_a_chain_held_on_an_mcp_request_survives_a_restart(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """The pending decision is in the store: a new controller's recover() asks again, sends the
    approval once, and the server runs the tool once."""
    path = tmp_path / "chains.db"
    store = RunStore(path, clock=env.clock)
    held = chains(kind, env, desk_for(kind, None), store=store).run(SCENARIO)
    store.close()
    assert held.ending.kind is EndingKind.HELD
    (first_id,) = held.response_ids
    request_id = first_request(env, first_id)
    store = RunStore(path, clock=env.clock)
    (stored,) = store.pending()
    assert stored.ledger.awaiting_approval() == (request_id,)
    desk = desk_for(kind, Decision.approve("ok by Sam"))
    (out,) = chains(kind, env, desk, store=store).call("recover")
    assert store.pending() == []
    store.close()
    assert out.status == "completed"
    assert_asked_about_deploy(desk, request_id)
    assert len(out.response_ids) == 2
    assert len(env.sim.mcp_runs()) == 1
    (decision,) = env.sim.response_chain(first_id)[1].decisions
    assert (decision.approve, decision.reason) == (True, "ok by Sam")


def test_a_plain_no_sends_a_rejection_without_a_reason(kind: str, env: Env) -> None:
    out = chains(kind, env, desk_for(kind, False)).run(SCENARIO)
    assert out.status == "completed"
    (decision,) = env.sim.response_chain(out.response_id)[1].decisions
    assert (decision.approve, decision.reason) == (False, None)
    assert env.sim.mcp_runs() == []
    assert out.output_text == "Deployment: not approved."


def test_without_an_approver_an_mcp_request_is_held_never_answered(kind: str, env: Env) -> None:
    out = Chains(kind, env, make_toolbox().registry).run(SCENARIO)
    assert out.ending.kind is EndingKind.HELD
    assert env.sim.response_ids() == list(out.response_ids)
    assert env.sim.mcp_runs() == []


TWO_TOOLS = Scenario(
    (
        Queue(),
        RequestApproval(
            (
                McpToolSpec.of("gitmcp", "deploy", {"ref": "v2"}, output="deployed {ref}"),
                McpToolSpec.of("gitmcp", "delete_repo", {"repo": "acme/old"}, "deleted {repo}"),
            )
        ),
        Answer("Done: {outputs}."),
    )
)


class ByName(Desk):
    """Decides per tool name (a name not in ``decisions``: undecided)."""

    def __init__(self, decisions: dict[str, Decision | bool | None]) -> None:
        super().__init__(None)
        self.decisions = decisions

    def __call__(self, request: ApprovalRequest) -> Decision | bool | None:
        self.asked.append(request)
        return self.decisions.get(request.name)


def test_a_round_half_decided_is_held_and_recover_asks_only_about_the_rest(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """deploy is approved, delete_repo undecided: nothing is sent; after a restart, recover()
    asks about delete_repo only (deploy's yes is in the store) and answers both requests in one
    create; only deploy runs."""
    env.sim.add_scenario("two-tools", TWO_TOOLS)
    path = tmp_path / "chains.db"
    store = RunStore(path, clock=env.clock)
    held = Chains(kind, env, None, store=store, approver=ByName({"deploy": True})).run("two-tools")
    store.close()
    assert held.ending.kind is EndingKind.HELD
    (first_id,) = held.response_ids
    deploy, delete = env.sim.response_chain(first_id)[0].approval_requests
    assert held.awaiting_approval == (delete.id,)
    assert held.ending.detail == f"approval:{delete.id}"
    assert env.sim.response_ids() == [first_id]
    later = ByName({"delete_repo": Decision.reject("keep it")})
    store = RunStore(path, clock=env.clock)
    (out,) = Chains(kind, env, None, store=store, approver=later).call("recover")
    store.close()
    assert out.status == "completed"
    assert [r.name for r in later.asked] == ["delete_repo"]
    decisions = env.sim.response_chain(first_id)[1].decisions
    assert {(d.request.id, d.approve, d.reason) for d in decisions} == {
        (deploy.id, True, None),
        (delete.id, False, "keep it"),
    }
    assert [run.name for run in env.sim.mcp_runs()] == ["deploy"]
    assert out.output_text == "Done: deployed v2, not approved: keep it."


def test_a_lost_answer_to_the_approval_create_is_never_resent(kind: str, env: Env) -> None:
    """The create that carries the approval is applied, but its answer is lost (a 500): the
    chain ends outcome_unknown and sends nothing again, so the tool ran once."""
    env.sim.faults.add(
        Fault(method="POST", path="/v1/responses", nth=2, applied_then_fail="status")
    )
    out = chains(kind, env, desk_for(kind, True)).run(SCENARIO)
    assert out.ending.kind is EndingKind.OUTCOME_UNKNOWN
    assert out.ending.detail == "submit"
    assert len(env.sim.response_ids()) == 2
    env.clock.advance(1)
    assert len(env.sim.mcp_runs()) == 1


MIXED = Scenario(
    (
        Queue(),
        RequestApproval((McpToolSpec.of("gitmcp", "deploy", {"ref": "a"}, "deployed {ref}"),)),
        Queue(),
        CallTools((ToolCallSpec.of("calculate_order_total", ORDER_ITEMS),)),
        Queue(),
        RequestApproval((McpToolSpec.of("gitmcp", "deploy", {"ref": "b"}, "deployed {ref}"),)),
        Answer("All: {outputs}."),
    )
)


@pytest.mark.parametrize("stream", [False, True], ids=["poll", "stream"])
def test_mcp_and_function_rounds_are_each_answered_in_their_own_kind(
    kind: str, env: Env, stream: bool
) -> None:
    """approval, function call, approval: each round gets mcp_approval_responses or
    function_call_outputs as it asked; the local tool runs once, each MCP tool once."""
    env.sim.add_scenario("mixed", MIXED)
    box = make_toolbox()
    desk = desk_for(kind, True)
    out = Chains(kind, env, box.registry, approver=desk, stream=stream).run("mixed")
    assert out.status == "completed"
    assert len(out.response_ids) == 4
    assert [(c.name, c.kind, c.round) for c in out.tool_calls] == [
        ("deploy", "mcp_approval", 1),
        ("calculate_order_total", "function", 2),
        ("deploy", "mcp_approval", 3),
    ]
    assert [r.name for r in desk.asked] == ["deploy", "deploy"]
    assert box.count("calculate_order_total") == 1
    assert [run.output for run in env.sim.mcp_runs()] == ["deployed a", "deployed b"]
    chain = env.sim.response_chain(out.response_id)
    assert [(len(e.decisions), len(e.outputs)) for e in chain] == [(0, 0), (1, 0), (0, 1), (1, 0)]
    total = chain[2].outputs[0].output
    assert out.output_text == f"All: deployed a, {total}, deployed b."


# -- a garbled first read of a held chain (the garbage-bodies profile's GETs, on every profile) --


def garble_next_read(env: Env) -> None:
    """The next GET of a response answers 200 with a body that is not a response."""
    env.sim.faults.add(Fault(method="GET", path="/v1/responses/*", status=200, times=1))


def test_a_garbled_poll_of_a_running_chain_is_a_lost_observation(kind: str, env: Env) -> None:
    """The control: while run() follows the chain, a garbled read is polled past."""
    garble_next_read(env)
    out = chains(kind, env, desk_for(kind, True)).run(SCENARIO)
    assert out.status == "completed"
    assert len(env.sim.mcp_runs()) == 1


def test_a_garbled_first_read_does_not_end_the_drive_of_a_held_chain(kind: str, env: Env) -> None:
    """drive() of a held chain whose first read is garbage polls again (it ended ``abandoned``,
    ``malformed``, with the never-observed status ``queued``, before the kernel's fix)."""
    held = chains(kind, env, desk_for(kind, None)).run(SCENARIO)
    assert held.ending.kind is EndingKind.HELD
    garble_next_read(env)
    done = chains(kind, env, desk_for(kind, True)).call("drive", response_id=held.response_id)
    assert (done.status, done.ending.kind) == ("completed", EndingKind.TERMINAL)
    assert len(env.sim.mcp_runs()) == 1


def test_a_garbled_first_read_does_not_end_the_recovery_of_a_held_chain(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """recover() likewise: the held round is answered once a readable response is seen."""
    store = RunStore(tmp_path / "chains.db", clock=env.clock)
    held = chains(kind, env, desk_for(kind, None), store=store).run(SCENARIO)
    assert held.ending.kind is EndingKind.HELD
    garble_next_read(env)
    (done,) = chains(kind, env, desk_for(kind, True), store=store).call("recover")
    store.close()
    assert (done.status, done.ending.kind) == ("completed", EndingKind.TERMINAL)
    assert len(env.sim.mcp_runs()) == 1
