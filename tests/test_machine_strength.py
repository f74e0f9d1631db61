"""Gaps found by mutation testing in the machine's guards, hooks, rounds and commands (issue 14;
docs/mutation.md): the submit guard reads an ``outputs`` mapping and names the ids it misses,
hooks get what they are documented to get and a failing hook is an anomaly with every field,
round anomalies carry how and when they were seen, and terminal commands name their status."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from lifecycle import (
    LIFECYCLES,
    AnomalyKind,
    DispatchTools,
    Finished,
    GuardRejected,
    Hooks,
    JournalEntry,
    LifecycleSpec,
    RunLifecycle,
    ToolCall,
)
from lifecycle._dispatch import Prepared, ToolErrorKind, error_output
from lifecycle._guards import GUARDS, GuardContext
from lifecycle._machine_build import build_machine

CALLS = [ToolCall("call_b", "f", "{}"), ToolCall("call_a", "g", "{}")]


def _waiting(**kw: Any) -> RunLifecycle:
    run = RunLifecycle(**kw)
    run.observe("in_progress", at=1.0)
    run.observe("requires_action", tool_calls=CALLS, at=2.0)
    return run


# -- the submit guard ------------------------------------------------------------------------------


def test_an_outputs_mapping_names_the_submitted_calls() -> None:
    """``outputs={id: text}`` counts its keys, like ``tool_call_ids``."""
    run = _waiting()
    run.trigger("submit_tool_outputs", outputs={"call_a": "1", "call_b": "2"})
    assert run.state == "queued"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"outputs": {"call_a": "1"}}, "missing outputs for call_b"),
        ({"tool_call_ids": []}, "no tool outputs were submitted"),
        ({"tool_call_ids": ["call_a"]}, "missing outputs for call_b"),
        (
            {"tool_call_ids": ["call_a", "call_b", "call_z", "call_y"]},
            "outputs for calls not required: call_y, call_z",
        ),
        ({"tool_call_ids": "call_a"}, "no tool outputs were submitted"),
    ],
)
def test_a_refused_submit_says_which_ids_are_missing_or_extra(
    kwargs: dict[str, Any], reason: str
) -> None:
    """Sorted ids in the reason; a bare string is no list of ids (nothing submitted)."""
    run = _waiting()
    with pytest.raises(GuardRejected) as info:
        run.trigger("submit_tool_outputs", **kwargs)
    assert str(info.value).endswith(f"guard outputs_cover_required_calls failed: {reason}")
    assert run.state == "requires_action"


def test_missing_ids_are_listed_sorted_and_comma_separated() -> None:
    run = RunLifecycle()
    calls = [ToolCall(f"call_{c}", "f", "{}") for c in "dcba"]
    run.observe("requires_action", tool_calls=calls)
    with pytest.raises(GuardRejected, match=r"missing outputs for call_b, call_c, call_d$"):
        run.trigger("submit_tool_outputs", tool_call_ids=["call_a"])


def test_a_refused_trigger_error_names_the_state_and_the_trigger() -> None:
    run = _waiting()
    with pytest.raises(GuardRejected) as info:
        run.trigger("submit_tool_outputs", tool_call_ids=[])
    assert (info.value.state, info.value.trigger) == ("requires_action", "submit_tool_outputs")


# -- hooks -----------------------------------------------------------------------------------------


def test_hooks_get_the_entry_and_the_tool_calls() -> None:
    hooks = Hooks()
    entries: list[JournalEntry] = []
    rounds: list[tuple[ToolCall, ...]] = []
    runs: list[RunLifecycle] = []

    def on_enter(run: RunLifecycle, entry: JournalEntry) -> None:
        entries.append(entry)
        runs.append(run)

    def on_round(run: RunLifecycle, calls: Sequence[ToolCall]) -> None:
        rounds.append(tuple(calls))
        runs.append(run)

    hooks.on_enter("requires_action")(on_enter)
    hooks.on_requires_action(on_round)
    run = _waiting(hooks=hooks)
    assert [e.dest for e in entries] == ["requires_action"]
    assert rounds == [tuple(CALLS)]
    assert runs == [run, run]
    assert list(run.anomalies) == []


def test_no_requires_action_hook_for_a_terminal_command() -> None:
    """Only DispatchTools commands reach an on_requires_action hook."""
    hooks = Hooks()
    seen: list[object] = []
    hooks.on_requires_action(lambda run, calls: seen.append(calls))
    run = RunLifecycle(hooks=hooks)
    run.observe("completed")
    assert seen == []
    assert run.take_commands() == [Finished("completed")]


class _Exploding:
    """A callable object without ``__qualname__`` on the instance."""

    def __call__(self, run: RunLifecycle, entry: object) -> None:
        raise KeyError("boom")


def test_a_failing_hook_is_a_hook_failed_anomaly_with_every_field() -> None:
    """Observed: the hook's qualified name (its type's name for a callable object); via client,
    at the run's clock, the exception's type in the detail; the engine goes on."""

    def named_hook(run: RunLifecycle, entry: object) -> None:
        raise ValueError("boom")

    hooks = Hooks()
    hooks.on_transition(named_hook)
    hooks.on_enter("in_progress")(_Exploding())
    run = RunLifecycle(hooks=hooks, clock=lambda: 42.0)
    run.observe("in_progress")
    assert run.state == "in_progress"
    first, second = run.anomalies
    assert first.kind == AnomalyKind.HOOK_FAILED
    assert first.observed.endswith("named_hook")
    assert (first.via, first.at, first.detail) == ("client", 42.0, "hook raised ValueError")
    assert (second.observed, second.detail) == ("_Exploding", "hook raised KeyError")


def test_a_client_trigger_calls_the_hooks_with_its_entry() -> None:
    """Our own submit and cancel are transitions like any other: the transition and enter hooks
    get their entries."""
    hooks = Hooks()
    moved: list[JournalEntry] = []
    entered: list[JournalEntry] = []
    hooks.on_transition(lambda run, entry: moved.append(entry))
    hooks.on_enter("cancelling")(lambda run, entry: entered.append(entry))
    run = _waiting(hooks=hooks)
    submit = run.trigger("submit_tool_outputs", tool_call_ids=["call_a", "call_b"], at=3.0)
    cancel = run.trigger("cancel", at=4.0)
    assert moved[-2:] == [submit, cancel]
    assert [e.trigger for e in moved[-2:]] == ["submit_tool_outputs", "cancel"]
    assert entered == [cancel]


def test_a_foreign_answer_is_an_anomaly_with_how_and_when_it_was_seen() -> None:
    """The state stays; the anomaly names the other object, the state, the source and the time,
    and the run still saves (its detail is text)."""
    run = RunLifecycle()
    run.observe("in_progress", at=1.0)
    run.record_foreign("run_other", via="stream", at=3.5)
    (anomaly,) = run.anomalies
    assert anomaly.kind == AnomalyKind.FOREIGN_OBJECT
    assert (anomaly.observed, anomaly.state, anomaly.via, anomaly.at) == (
        "run_other",
        "in_progress",
        "stream",
        3.5,
    )
    assert run.state == "in_progress"
    assert RunLifecycle.restore(run.snapshot().model_dump_json()).anomalies == run.anomalies


def test_the_cancel_guard_accepts_a_request_given_as_a_keyword() -> None:
    """``cancel_requested=True`` in the trigger's context counts as a request, like ours or an
    external one; without any of them the guard refuses."""
    guard = GUARDS["cancel_was_requested"]
    assert guard(GuardContext(), {"cancel_requested": True}) is None
    assert guard(GuardContext(), {"external": True}) is None
    assert guard(GuardContext(), {}) == "no cancel was requested"


@pytest.mark.parametrize("spec", list(LIFECYCLES.values()), ids=list(LIFECYCLES))
def test_the_shared_machine_has_exactly_the_tables_triggers(spec: LifecycleSpec[Any]) -> None:
    """One event per trigger of the table and nothing else (no ``to_<state>`` shortcuts): the
    machine accepts exactly the table's edges."""
    machine, events = build_machine(spec)
    assert set(events) == {e.trigger for e in spec.edges}
    assert set(machine.events) == set(events)
    assert set(machine.states) == {s.value for s in spec.states}


# -- rounds ----------------------------------------------------------------------------------------


def test_a_round_without_calls_after_an_answered_one_is_missing_calls_not_stale() -> None:
    run = _waiting()
    run.trigger("submit_tool_outputs", tool_call_ids=["call_a", "call_b"])
    run.observe("in_progress")
    run.observe("requires_action", tool_calls=[], at=9.0)
    assert run.state == "requires_action"
    (anomaly,) = run.anomalies
    assert anomaly.kind == AnomalyKind.MISSING_TOOL_CALLS


def test_round_anomalies_carry_how_and_when_they_were_seen() -> None:
    """Changed calls and a stale payload: via and at of the observation that showed them."""
    run = _waiting()
    run.observe("requires_action", tool_calls=[ToolCall("call_x", "f", "{}")], via="stream", at=3.0)
    (changed,) = run.anomalies
    assert (changed.kind, changed.via, changed.at) == (
        AnomalyKind.TOOL_CALLS_CHANGED,
        "stream",
        3.0,
    )
    assert changed.detail

    stale = _waiting()
    stale.trigger("submit_tool_outputs", tool_call_ids=["call_a", "call_b"])
    stale.observe("in_progress")
    stale.observe("requires_action")  # entered without its payload
    stale.observe("requires_action", tool_calls=CALLS, via="webhook", at=7.0)
    (anomaly,) = stale.anomalies
    assert (anomaly.kind, anomaly.via, anomaly.at) == (AnomalyKind.STALE_ROUND, "webhook", 7.0)
    assert anomaly.detail


def test_the_same_round_seen_again_without_calls_is_not_a_change() -> None:
    run = _waiting()
    run.observe("requires_action", tool_calls=[])
    assert [a.kind for a in run.anomalies] == []


# -- commands --------------------------------------------------------------------------------------


def test_each_terminal_status_emits_finished_with_that_status_after_dispatch() -> None:
    run = _waiting()
    run.trigger("cancel")
    run.observe("cancelled")
    commands = run.take_commands()
    assert commands == [DispatchTools("requires_action", tuple(CALLS)), Finished("cancelled")]
    for status in ("failed", "expired", "completed", "incomplete"):
        other = RunLifecycle()
        other.observe(status)
        assert other.take_commands() == [Finished(status)]


def test_a_guarded_trigger_reads_the_context_of_a_fresh_run() -> None:
    """A run that never saw a round has no context yet: the guard still answers (the trigger
    is our cancel request)."""
    run = RunLifecycle()
    run.observe("in_progress")
    run.trigger("cancel")
    assert run.state == "cancelling"


# -- dispatch --------------------------------------------------------------------------------------


def test_an_error_output_is_compact_sorted_json_that_keeps_non_ascii() -> None:
    out = error_output("c1", ToolErrorKind.TOOL_ERROR, "échec ✓", 4000, tool="zeta", alpha=1)
    assert out.output == (
        '{"error":{"alpha":1,"message":"échec ✓","tool":"zeta","type":"tool_error"}}'
    )
    assert json.loads(out.output)["error"]["message"] == "échec ✓"


def test_a_prepared_call_with_an_error_cannot_be_run_and_says_which() -> None:
    prepared = Prepared(ToolCall("call_7", "f", "{}"))
    with pytest.raises(RuntimeError, match="call_7"):
        prepared.call_tool()


def test_a_tool_call_repr_shows_the_size_of_its_arguments() -> None:
    assert (
        repr(ToolCall("c1", "f", '{"a": 1}')) == "ToolCall(id='c1', name='f', arguments=<8 chars>)"
    )


def test_commands_not_taken_yet_are_kept_when_the_next_round_opens() -> None:
    """Two rounds, nobody took the first one's command: both are in the outbox, in order."""
    run = _waiting()
    run.trigger("submit_tool_outputs", tool_call_ids=["call_a", "call_b"])
    run.observe("in_progress")
    later = [ToolCall("call_c", "f", "{}")]
    run.observe("requires_action", tool_calls=later)
    assert run.take_commands() == [
        DispatchTools("requires_action", tuple(CALLS)),
        DispatchTools("requires_action", tuple(later)),
    ]
