"""Durable Responses chains: the store and ``recover()`` across a crash, at every crash point.

Each test crashes a chain at a named point (``crash_at``), opens the store again as a new
process would, and recovers with a fresh controller: a tool is never run twice, an output is
never sent twice, and a chain whose next response may exist ends ``outcome_unknown`` instead of
forking (the Responses API has no way to look a response up by its metadata).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.openai import CrashPoint, ResponseOutcome
from adapters.store import SUPERSEDED, RunStore
from lifecycle import CallState
from lifecycle.kernel import EndingKind
from tests.controller.conftest import Env, make_toolbox, open_env
from tests.controller.test_chains import Chains

TOOL = "calculate_order_total"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(sim_profile: str) -> Iterator[Env]:
    with open_env(sim_profile) as e:
        yield e


class Crashing:
    """A chain crashed at ``point``, then recovered by a new controller on a reopened store."""

    def __init__(self, kind: str, env: Env, tmp_path: Path, scenario: str = "order-total"):
        self.kind, self.env, self.path = kind, env, tmp_path / "chains.db"
        self.box = make_toolbox()
        self.scenario = scenario

    def crash(self, point: str) -> None:
        store = RunStore(self.path, clock=self.env.clock)
        try:
            with pytest.raises(CrashPoint):
                self._chains(store, crash_at=point).run(self.scenario)
        finally:
            store.close()

    def recover(self) -> list[ResponseOutcome]:
        store = RunStore(self.path, clock=self.env.clock)
        try:
            out: list[ResponseOutcome] = self._chains(store).call("recover")
            return out
        finally:
            store.close()

    def _chains(self, store: RunStore, **settings: Any) -> Chains:
        return Chains(self.kind, self.env, self.box.registry, store=store, **settings)

    def responses(self) -> list[str]:
        return list(self.env.sim.responses.responses)


def test_a_clean_chain_leaves_one_row_per_response_and_nothing_pending(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """Each response of the chain is saved; the one before is closed as superseded in the same
    write, the last is terminal: recover() has nothing to do."""
    store = RunStore(tmp_path / "chains.db", clock=env.clock)
    box = make_toolbox()
    out = Chains(kind, env, box.registry, store=store).run("order-total")
    assert out.status == "completed"
    first, last = (store.load(r) for r in out.response_ids)
    assert first is not None
    assert last is not None
    assert first.closed == SUPERSEDED
    assert last.terminal
    assert last.thread_id == first.thread_id  # the chain's scope
    assert last.ledger.state_of(out.tool_calls[0].call_id) is CallState.DELIVERED
    assert store.pending() == []
    assert store.unbound_creates() == []
    assert Chains(kind, env, box.registry, store=store).call("recover") == []


def test_a_crash_before_the_next_response_sends_the_recorded_output_once(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """Crash with the tool's output recorded, before the next response is created: recover()
    creates it once with that output; the tool never runs again."""
    c = Crashing(kind, env, tmp_path)
    c.crash("before_submit")
    assert c.box.count(TOOL) == 1
    assert len(c.responses()) == 1
    (out,) = c.recover()
    assert out.status == "completed"
    assert c.box.count(TOOL) == 1
    assert len(out.response_ids) == 2
    chain = env.sim.response_chain(out.response_ids[-1])
    assert [e.response_id for e in chain] == list(out.response_ids)
    assert len(chain[0].answered_by) == 1  # no fork
    (sent,) = chain[1].outputs
    assert sent.output == out.tool_calls[0].output


def test_a_crash_after_the_next_response_was_sent_never_sends_it_again(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """Crash after the next response's create returned, before it was saved: its id is lost
    and the API cannot find it. recover() does not send the output again (a fork): the chain
    ends outcome_unknown, and a second recovery says the same."""
    c = Crashing(kind, env, tmp_path)
    c.crash("after_submit_sent")
    responses = c.responses()
    assert len(responses) == 2
    for _ in range(2):
        (out,) = c.recover()
        assert out.ending.kind is EndingKind.OUTCOME_UNKNOWN
        assert out.ending.detail == "submit"
        assert c.box.count(TOOL) == 1
        assert c.responses() == responses
        assert len(env.sim.response_chain(responses[0])[0].answered_by) == 1


def test_a_crash_mid_tool_holds_the_chain_with_an_unknown_effect(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """Crash after the tool ran, before its end was recorded: its effect is unknown. recover()
    never runs it again and answers nothing on anyone's behalf: the chain is held."""
    c = Crashing(kind, env, tmp_path)
    c.crash("after_tool_effect")
    (out,) = c.recover()
    assert out.ending.kind is EndingKind.HELD
    assert out.unknown_effects == tuple(t.call_id for t in out.tool_calls)
    assert c.box.count(TOOL) == 1
    assert len(c.responses()) == 1


def test_a_lost_first_create_is_reported_and_never_sent_again(
    kind: str, env: Env, tmp_path: Path
) -> None:
    """Crash right after the first create returned, before its id was saved: there is no
    ``responses.list``, so recover() reports outcome_unknown (create) and creates nothing."""
    c = Crashing(kind, env, tmp_path)
    c.crash("after_create_sent")
    responses = c.responses()
    assert len(responses) == 1
    (out,) = c.recover()
    assert out.ending.kind is EndingKind.OUTCOME_UNKNOWN
    assert out.ending.detail == "create"
    assert c.responses() == responses
    assert c.box.count(TOOL) == 0


def test_recovery_of_chains_and_runs_share_a_store_without_taking_each_others_rows(
    env: Env, tmp_path: Path
) -> None:
    """A store holding a pending chain: the Assistants controller's recover() leaves it alone."""
    from adapters.openai import RunController

    c = Crashing("sync", env, tmp_path)
    c.crash("before_submit")
    store = RunStore(c.path, clock=env.clock)
    assert RunController(env.client, store=store).recover() == []
    store.close()
    (out,) = c.recover()
    assert out.status == "completed"
