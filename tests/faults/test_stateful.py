"""A Hypothesis state machine over the pure parts: RunLifecycle + ToolRegistry + ToolLedger.

Rules mix server moves (along the table), dropped, duplicated and stale observations, tool-call
rounds (valid, invalid JSON, unknown names, dunders, repeated ids), client cancels and
snapshot/restore "restarts". Invariants after every step: I1 (at most one execution per call
id), I3 (each submission answers exactly the required ids, once), I5 (the journal is a chain of
table edges with no duplicate and no gap; rejected observations are anomalies), I7 (nothing
raises).
"""

from __future__ import annotations

from collections import Counter

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from lifecycle import (
    ASSISTANTS_RUN,
    CallState,
    DispatchTools,
    Driver,
    RunLifecycle,
    ToolCall,
    ToolLedger,
    ToolRegistry,
)
from lifecycle._table import CANCEL_GUARD, SUBMIT_GUARD

SPEC = ASSISTANTS_RUN
_SERVER_EDGES = [e for e in SPEC.edges if e.driver is Driver.SERVER]

ARGS = st.one_of(
    st.integers(-5, 5).map(lambda x: f'{{"x": {x}}}'),  # valid (half of the draws)
    st.sampled_from(['{"x": "1"}', "{bad", "[1]", '{"x": 1, "y": 2}', ""]),
)
NAMES = st.sampled_from(["double"] * 4 + ["__class__", "multi_tool_use.parallel", "nope"])


def _registry(executions: Counter[str]) -> ToolRegistry:
    tools = ToolRegistry()

    @tools.tool
    def double(x: int) -> int:
        """Double x."""
        return x * 2

    return tools


class LifecycleWithTools(RuleBasedStateMachine):
    """The server's truth, our lifecycle's view of it, and the tool ledger."""

    def __init__(self) -> None:
        super().__init__()
        self.truth = SPEC.initial.value
        self.seen: list[str] = [self.truth]  # statuses the server had, in order
        self.lc = RunLifecycle()
        self.ledger = ToolLedger()
        self.executions: Counter[str] = Counter()
        self.tools = _registry(self.executions)
        self.required: tuple[ToolCall, ...] = ()
        self.submissions: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self.next_id = 0
        self.round = 0

    # -- the server ----------------------------------------------------------------------------

    @precondition(lambda self: self.truth not in SPEC.terminal_values)
    @rule(data=st.data(), observe=st.booleans())
    def server_moves(self, data: st.DataObject, observe: bool) -> None:
        """The server takes one of its own edges; we see it (or the poll is dropped)."""
        edges = [
            e
            for e in _SERVER_EDGES
            if e.source == self.truth
            for _ in range(1 if e.dest in SPEC.terminal_values else 6)  # favour long runs
        ]
        if not edges:
            return
        edge = data.draw(st.sampled_from(edges))
        calls: tuple[ToolCall, ...] | None = None
        if edge.dest in SPEC.awaiting_client_values:
            n = data.draw(st.integers(1, 4))
            fresh = []
            for _ in range(n):
                self.next_id += 1
                fresh.append(ToolCall(f"call_{self.next_id}", data.draw(NAMES), data.draw(ARGS)))
            if self.required and data.draw(st.booleans()):
                fresh.append(self.required[0])  # the model repeats an old id (F10)
            calls = tuple(fresh)
            self.required = calls
        self.truth = edge.dest
        self.seen.append(self.truth)
        if observe:
            self.lc.observe(self.truth, tool_calls=calls)

    @precondition(lambda self: self.truth not in SPEC.terminal_values)
    @rule(data=st.data())
    def model_calls_tools(self, data: st.DataObject) -> None:
        """The server runs on (along the table) until the model asks for tool calls."""
        target = next(iter(SPEC.awaiting_client_values))
        path = SPEC.path(self.truth, target)
        if not path or any(e.driver is not Driver.SERVER for e in path):
            return
        for edge in path:
            self.truth = edge.dest
            self.seen.append(self.truth)
        fresh = []
        for _ in range(data.draw(st.integers(1, 4))):
            self.next_id += 1
            fresh.append(ToolCall(f"call_{self.next_id}", data.draw(NAMES), data.draw(ARGS)))
        if self.required and data.draw(st.booleans()):
            fresh.append(self.required[0])  # the model repeats an old id (F10)
        self.required = tuple(fresh)
        self.lc.observe(self.truth, tool_calls=self.required)

    @rule()
    def duplicate_observation(self) -> None:
        """The same status again (a repeat poll, or stream + poll)."""
        calls = self.required if self.truth in SPEC.awaiting_client_values else None
        self.lc.observe(self.truth, tool_calls=calls)

    @rule(data=st.data())
    def stale_observation(self, data: st.DataObject) -> None:
        """An old status arrives late (a stale read)."""
        self.lc.observe(data.draw(st.sampled_from(self.seen)))

    @rule(raw=st.text(max_size=12).filter(lambda s: s not in SPEC.state_values))
    def garbage_observation(self, raw: str) -> None:
        """Any string that is not a status (a real status here would be a server move)."""
        self.lc.observe(raw)

    # -- the client ----------------------------------------------------------------------------

    @rule()
    def dispatch_and_submit(self) -> None:
        """Run the lifecycle's DispatchTools commands through the ledger; submit once."""
        for command in self.lc.take_commands():
            if not isinstance(command, DispatchTools) or not command.tool_calls:
                continue
            if not self.lc.awaiting_client or self.truth not in SPEC.awaiting_client_values:
                continue
            self.round += 1
            unique = list({c.id: c for c in command.tool_calls}.values())
            for call in unique:
                self.ledger.intend(call, round=self.round)
                if self.ledger.state_of(call.id) is not CallState.INTENDED:
                    continue
                prepared = self.tools.prepare(call)
                if prepared.error is not None:
                    self.ledger.record(prepared.error, executed=False)
                elif self.ledger.claim(call.id):
                    self.executions[call.id] += 1
                    result = prepared.call_tool()
                    self.ledger.record(self.tools.finish(call, result), executed=True)
            outputs = [self.ledger.output_for(c.id) for c in unique]
            assert all(o is not None for o in outputs)
            ids = tuple(o.tool_call_id for o in outputs if o is not None)
            required = tuple(dict.fromkeys(c.id for c in self.required))
            self.submissions.append((ids, required))
            self.lc.record_submission(ids)
            self.ledger.delivered(ids)
            submit = SPEC.edge(self.truth, "submit_tool_outputs")
            assert submit is not None
            assert submit.guard == SUBMIT_GUARD
            self.truth = submit.dest
            self.seen.append(self.truth)
            self.lc.observe(self.truth, via="client")

    @precondition(lambda self: not self.lc.is_terminal)
    @rule(dice=st.integers(0, 7))
    def cancel(self, dice: int) -> None:
        """We (rarely) ask for a cancel; the server applies it where the table allows."""
        if dice:
            return
        self.lc.request_cancel()
        edge = next((e for e in SPEC.edges_from(self.truth) if e.guard == CANCEL_GUARD), None)
        if edge is not None:
            self.truth = edge.dest
            self.seen.append(self.truth)
            self.lc.observe(self.truth, via="client")

    @rule()
    def restart(self) -> None:
        """Crash and restore from a JSON snapshot and the ledger's JSON."""
        commands = self.lc.take_commands()
        self.lc = RunLifecycle.restore(self.lc.snapshot().model_dump_json())
        for c in commands:  # commands not acted on yet are re-derived by the driver
            self.lc._emit(c)
        self.ledger = ToolLedger.model_validate_json(self.ledger.model_dump_json())

    # -- invariants ----------------------------------------------------------------------------

    @invariant()
    def i1_at_most_one_execution_per_id(self) -> None:
        assert all(n == 1 for n in self.executions.values())
        executed = {k for k, e in self.ledger.entries.items() if e.executed}
        assert executed == set(self.executions)

    @invariant()
    def i3_each_submission_answers_exactly_the_required_ids(self) -> None:
        for ids, required in self.submissions:
            assert len(ids) == len(set(ids))
            assert set(ids) == set(required)

    @invariant()
    def i5_the_journal_is_a_chain_of_table_edges(self) -> None:
        state = SPEC.initial.value
        for entry in self.lc.history:
            assert entry.source == state
            assert SPEC.edge(entry.source, entry.trigger) is not None
            assert entry.dest != entry.source
            state = entry.dest
        assert state == self.lc.state
        # the lifecycle never runs ahead of the server
        assert self.lc.state.value in self.seen

    @invariant()
    def terminal_is_sticky(self) -> None:
        terminal = [e for e in self.lc.history if e.dest in SPEC.terminal_values]
        assert len(terminal) <= 1
        if terminal:
            assert self.lc.history[-1] == terminal[0]


LifecycleWithTools.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
TestLifecycleWithTools = LifecycleWithTools.TestCase
