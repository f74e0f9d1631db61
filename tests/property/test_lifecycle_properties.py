"""Property-based tests of the engine against an oracle built from the table (a plain dict).

The oracle ``{(source, trigger): dest}`` is a different code path from the ``transitions``
machine the engine runs, so an engine bug cannot hide behind the same bug in the oracle.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from lifecycle import (
    LIFECYCLES,
    GuardRejected,
    IllegalTransition,
    LifecycleSpec,
    RunLifecycle,
    ToolCall,
)
from lifecycle.testing import (
    illegal_steps,
    observations,
    polled_traces,
    statuses,
    transition_oracle,
)

SPECS = list(LIFECYCLES.values())
CALLS = (ToolCall("call_a", "f", "{}"), ToolCall("call_b", "g", "{}"))


def lifecycle_in(spec: LifecycleSpec[Any], state: str) -> RunLifecycle:
    """A lifecycle placed in ``state`` through a snapshot (no transition needed)."""
    ctx: dict[str, Any] = {"cancel_requested": True}
    if state in spec.awaiting_client_values:
        ctx["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in CALLS]
    return RunLifecycle.restore({"lifecycle": spec.name, "state": state, "context": ctx})


def guard_context(trigger: str) -> dict[str, Any]:
    """Trigger keywords that satisfy the guard of ``trigger``'s edges."""
    return {"tool_call_ids": [c.id for c in CALLS]} if trigger == "submit_tool_outputs" else {}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_state_trigger_pair_matches_the_oracle(spec: LifecycleSpec[Any]) -> None:
    """Exhaustively: the machine accepts exactly the table's edges; others raise, unchanged."""
    oracle = transition_oracle(spec)
    for state in spec.states:
        for trigger in spec.triggers:
            run = lifecycle_in(spec, state.value)
            before = run.snapshot()
            if (state.value, trigger) in oracle:
                entry = run.trigger(trigger, **guard_context(trigger))
                assert run.state == oracle[state.value, trigger]
                assert (entry.source, entry.trigger, entry.dest) == (
                    state.value,
                    trigger,
                    oracle[state.value, trigger],
                )
            else:
                with pytest.raises(IllegalTransition):
                    run.trigger(trigger, **guard_context(trigger))
                assert run.snapshot() == before


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_illegal_steps_raise_and_leave_state_and_journal(
    spec: LifecycleSpec[Any], data: st.DataObject
) -> None:
    """Drawn illegal (state, trigger) pairs raise IllegalTransition and change nothing."""
    state, trigger = data.draw(illegal_steps(spec))
    run = lifecycle_in(spec, state)
    before = run.snapshot()
    with pytest.raises(IllegalTransition) as info:
        run.trigger(trigger)
    assert (info.value.state, info.value.trigger) == (state, trigger)
    assert run.snapshot() == before


@given(ids=st.sets(st.sampled_from(["call_a", "call_b", "call_c"])))
def test_submit_guard_accepts_exactly_the_required_ids(ids: set[str]) -> None:
    """The submit edge passes only when the submitted ids equal the required ids."""
    run = lifecycle_in(LIFECYCLES["assistants-run"], "requires_action")
    if ids == {"call_a", "call_b"}:
        run.trigger("submit_tool_outputs", tool_call_ids=sorted(ids))
        assert run.state == "queued"
    else:
        with pytest.raises(GuardRejected):
            run.trigger("submit_tool_outputs", tool_call_ids=sorted(ids))
        assert run.state == "requires_action"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@given(data=st.data())
def test_polled_legal_traces_replay_without_anomaly(
    spec: LifecycleSpec[Any], data: st.DataObject
) -> None:
    """A legal trace with missed and repeated polls replays cleanly to its last status."""
    trace = data.draw(polled_traces(spec))
    run = RunLifecycle(spec)
    for status in trace:
        run.observe(status, assume_client=True)
    assert run.anomalies == ()
    assert run.state == trace[-1]
    assert_connected(spec, run)


def assert_connected(spec: LifecycleSpec[Any], run: RunLifecycle) -> None:
    """The journal is a connected path of table edges from the initial state."""
    oracle = transition_oracle(spec)
    here = spec.initial.value
    for entry in run.history:
        assert entry.source == here
        assert oracle[entry.source, entry.trigger] == entry.dest
        here = entry.dest
    assert here == run.state


class LifecycleMachine(RuleBasedStateMachine):
    """Stateful fuzzing: arbitrary observations, triggers and client intents."""

    def __init__(self) -> None:
        super().__init__()
        self.spec: LifecycleSpec[Any] = LIFECYCLES["assistants-run"]
        self.run = RunLifecycle(self.spec)
        self.ended_in: str | None = None
        self.rounds = 0

    @rule(status=observations(), via=st.sampled_from(["poll", "stream", "client"]))
    def observe_anything(self, status: str, via: str) -> None:
        """The server reports any string at all; observe() never raises."""
        calls = CALLS if status == "requires_action" else None
        before_state, before_len = self.run.state, len(self.run.history)
        applied = self.run.observe(status, via=via, tool_calls=calls)
        if not applied:
            assert self.run.state == before_state
            assert len(self.run.history) == before_len

    @precondition(lambda self: not self.run.is_terminal)
    @rule(data=st.data())
    def observe_successor(self, data: st.DataObject) -> None:
        """The server moves the run along one edge (client edges: the client asked first)."""
        status = data.draw(st.sampled_from(sorted(self.spec.successors(self.run.state))))
        if self.run.state == "requires_action" and status == "queued":
            self.run.record_submission([c.id for c in self.run.pending_tool_calls] or ["x"])
        calls = None
        if status == "requires_action":  # a new round asks for new calls (the same ids again
            self.rounds += 1  # after our submission would be a stale read, not a move)
            calls = tuple(ToolCall(f"{c.id}_{self.rounds}", c.name, c.arguments) for c in CALLS)
            if self.run.state == "requires_action":
                calls = tuple(self.run.pending_tool_calls) or calls
        self.run.observe(status, tool_calls=calls)
        assert self.run.state == status

    @rule(trigger=st.sampled_from(LIFECYCLES["assistants-run"].triggers))
    def trigger_anything(self, trigger: str) -> None:
        """A client trigger either applies its one edge or raises with nothing changed."""
        before = self.run.snapshot()
        try:
            self.run.trigger(trigger, **guard_context(trigger))
        except IllegalTransition:
            assert self.run.snapshot() == before
        else:
            assert (before.state, trigger) in transition_oracle(self.spec)

    @rule()
    def take_commands(self) -> None:
        """Commands drain; a Finished command only ever names a terminal status."""
        for command in self.run.take_commands():
            status = getattr(command, "status", None)
            if status is not None:
                assert status in self.spec.terminal_values

    @invariant()
    def state_is_known(self) -> None:
        """The state is always one of the table's statuses."""
        assert self.run.state in self.spec.state_values

    @invariant()
    def terminal_is_absorbing(self) -> None:
        """Once terminal, the state never changes again."""
        if self.ended_in is not None:
            assert self.run.state == self.ended_in
        elif self.run.is_terminal:
            self.ended_in = self.run.state

    @invariant()
    def journal_is_a_connected_table_path(self) -> None:
        """Every journal entry is a table edge continuing from the previous one."""
        assert_connected(self.spec, self.run)

    @invariant()
    def snapshot_restore_is_equivalent(self) -> None:
        """restore(snapshot) has the same state, journal, anomalies and context."""
        snap = self.run.snapshot()
        back = RunLifecycle.restore(snap.model_dump_json())
        assert back.snapshot() == snap
        assert back.state == self.run.state


TestLifecycleMachine = LifecycleMachine.TestCase


@given(status=statuses())
def test_any_known_status_from_initial_is_reachable_or_rejected(status: str) -> None:
    """From queued, each known status is either applied (reachable) or rejected as anomaly."""
    run = RunLifecycle()
    applied = run.observe(status)
    spec = LIFECYCLES["assistants-run"]
    reachable = spec.path("queued", status, blocked=spec.guard_names) is not None
    assert (run.state == status) == (reachable or status == "cancelled" or status == "cancelling")
    assert bool(applied) == (status != "queued" and run.state == status)


def test_a_second_round_after_a_submission_moves_the_machine() -> None:
    """The sequence Hypothesis found with the ci profile: a round, our submission, queued, the
    run started again, and a *new* round (new call ids) is a move; the same ids again would be
    a stale read (kept in the state before, an anomaly), which the rule must not draw."""
    machine = LifecycleMachine()
    machine.run.trigger("start")
    for status in ("requires_action", "queued"):
        machine.observe_successor(Drawn(status))
    machine.run.trigger("start")
    machine.observe_successor(Drawn("requires_action"))
    assert machine.run.state == "requires_action"
    assert not machine.run.anomalies
    assert len({c.id for c in machine.run.pending_tool_calls} & {c.id for c in CALLS}) == 0


class Drawn:
    """Stands in for hypothesis' ``data`` in a directed test: every draw is ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def draw(self, strategy: Any, label: Any = None) -> Any:
        return self.value
