"""End to end: the approval gate over loopback HTTP with the real SDK, for Assistants runs and
Responses chains, sync and async: approve, reject, hold (durably) and continue."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.openai import ResponseOutcome
from adapters.store import RunStore
from lifecycle import ApprovalRequest, CallState, Decision
from lifecycle.kernel import EndingKind
from tests.controller.conftest import AsyncDesk, Desk, Env, MakeDriver, make_toolbox, open_env
from tests.controller.test_chains import Chains

TOOL = "calculate_order_total"


def test_an_approved_tool_runs_once(make_driver: MakeDriver) -> None:
    box = make_toolbox(needs_approval={TOOL})
    desk = Desk(True)
    out = make_driver(tools=box.registry, approver=desk).run("order-total")
    assert out.status == "completed"
    assert box.count(TOOL) == 1
    assert [r.name for r in desk.asked] == [TOOL]
    assert out.tool_calls[0].approval == "approved"


def test_a_rejected_tool_never_runs_and_the_run_goes_on(make_driver: MakeDriver, env: Env) -> None:
    box = make_toolbox(needs_approval={TOOL})
    out = make_driver(tools=box.registry, approver=Desk(Decision.reject("ask a manager"))).run(
        "order-total"
    )
    assert out.status == "completed"  # the model got the refusal as the tool's output
    assert box.count(TOOL) == 0
    (call,) = out.tool_calls
    assert (call.approval, call.error, call.state) == ("rejected", "not_approved", "delivered")
    (submitted,) = env.sim.tool_outputs(out.run_id)[0]
    assert "ask a manager" in json.loads(submitted.output)["error"]["message"]


def test_an_undecided_tool_holds_the_run_and_drive_continues_it(
    make_driver: MakeDriver, env: Env
) -> None:
    """No decision yet: the run is left waiting on the server (nothing ran, nothing submitted);
    once the desk decides, ``drive()`` runs the tool once and finishes the run."""
    box = make_toolbox(needs_approval={TOOL})
    desk = Desk(None)
    driver = make_driver(tools=box.registry, approver=desk)
    held = driver.run("order-total")
    assert held.ending.kind is EndingKind.HELD
    assert held.awaiting_approval == (held.tool_calls[0].id,)
    assert held.status == "requires_action"
    assert box.count(TOOL) == 0
    assert env.sim.tool_outputs(held.run_id) == []
    desk.decision = True
    out = driver._call("drive", thread_id=held.thread_id, run_id=held.run_id)
    assert out.status == "completed"
    assert box.count(TOOL) == 1
    assert out.awaiting_approval == ()


def test_a_hook_that_raises_leaves_the_call_undecided(make_driver: MakeDriver) -> None:
    box = make_toolbox(needs_approval={TOOL})

    def broken(request: ApprovalRequest) -> bool:
        raise ConnectionError("approval service down")

    out = make_driver(tools=box.registry, approver=broken).run("order-total")
    assert out.ending.kind is EndingKind.HELD
    assert box.count(TOOL) == 0


# -- Responses chains --------------------------------------------------------------------------


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def chain_env(sim_profile: str) -> Iterator[Env]:
    with open_env(sim_profile) as e:
        yield e


def desk_for(kind: str, decision: Decision | bool | None) -> Desk:
    return AsyncDesk(decision) if kind == "async" else Desk(decision)


def test_a_chain_held_for_approval_survives_a_restart(
    kind: str, chain_env: Env, tmp_path: Path
) -> None:
    """The pending decision is in the store: a new process's recover() asks again (only about
    the undecided call), then runs the tool once and creates the next response once."""
    box = make_toolbox(needs_approval={TOOL})
    path = tmp_path / "chains.db"
    store = RunStore(path, clock=chain_env.clock)
    held: ResponseOutcome = Chains(
        kind, chain_env, box.registry, store=store, approver=desk_for(kind, None)
    ).run("order-total")
    store.close()
    assert held.ending.kind is EndingKind.HELD
    assert held.ending.detail == f"approval:{held.tool_calls[0].call_id}"
    assert box.count(TOOL) == 0
    assert len(held.response_ids) == 1
    store = RunStore(path, clock=chain_env.clock)
    (stored,) = store.pending()
    assert stored.ledger.awaiting_approval() == (held.tool_calls[0].call_id,)
    desk = desk_for(kind, Decision.approve("ok by Sam"))
    (out,) = Chains(kind, chain_env, box.registry, store=store, approver=desk).call("recover")
    store.close()
    assert out.status == "completed"
    assert [r.call_id for r in desk.asked] == [held.tool_calls[0].call_id]
    assert box.count(TOOL) == 1
    assert len(out.response_ids) == 2
    assert out.tool_calls[0].state == CallState.DELIVERED


def test_a_rejected_chain_call_is_answered_with_the_refusal(kind: str, chain_env: Env) -> None:
    box = make_toolbox(needs_approval={TOOL})
    desk = desk_for(kind, Decision.reject("no orders today"))
    out = Chains(kind, chain_env, box.registry, approver=desk).run("order-total")
    assert box.count(TOOL) == 0
    chain = chain_env.sim.response_chain(out.response_ids[-1])
    (sent,) = chain[1].outputs
    error: dict[str, Any] = json.loads(sent.output)["error"]
    assert error["type"] == "not_approved"
    assert "no orders today" in error["message"]
