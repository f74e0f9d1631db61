"""The engine: strict triggers, observe() reconciliation, guards, commands, hooks, snapshots."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from lifecycle import (
    RESPONSE,
    AnomalyKind,
    DispatchTools,
    Finished,
    GuardRejected,
    Hooks,
    IllegalTransition,
    LifecycleError,
    RunLifecycle,
    ToolCall,
)

CALLS = (
    ToolCall("call_1", "calculate_order_total", '{"items": []}'),
    ToolCall("call_2", "f", "{}"),
)


def at_requires_action() -> RunLifecycle:
    run = RunLifecycle()
    run.observe("in_progress", via="stream", at=1.0)
    run.observe("requires_action", via="stream", at=2.0, tool_calls=CALLS)
    return run


def test_new_run_is_queued_with_empty_journal() -> None:
    """A fresh lifecycle starts in the table's initial state."""
    run = RunLifecycle()
    assert run.state == "queued"
    assert not run.is_terminal
    assert run.history == ()
    assert run.anomalies == ()


def test_trigger_applies_one_edge_and_journals_it() -> None:
    """A legal trigger moves the state and appends one client entry."""
    run = RunLifecycle()
    entry = run.trigger("start", at=5.0)
    assert run.state == "in_progress"
    assert (entry.source, entry.dest, entry.trigger, entry.via, entry.at) == (
        "queued",
        "in_progress",
        "start",
        "client",
        5.0,
    )
    assert run.history == (entry,)


def test_illegal_trigger_raises_and_changes_nothing() -> None:
    """No edge: IllegalTransition carrying the state and trigger; nothing changes."""
    run = RunLifecycle()
    with pytest.raises(IllegalTransition) as info:
        run.trigger("complete")
    assert isinstance(info.value, LifecycleError)
    assert (info.value.state, info.value.trigger) == ("queued", "complete")
    assert run.state == "queued"
    assert run.history == ()


def test_unknown_trigger_name_is_illegal_too() -> None:
    """A trigger that is not in the table at all is an IllegalTransition, not an AttributeError."""
    with pytest.raises(IllegalTransition):
        RunLifecycle().trigger("to_completed")


def test_submit_guard_needs_every_required_output() -> None:
    """The submit edge rejects a partial submission and accepts the complete one."""
    run = at_requires_action()
    with pytest.raises(GuardRejected) as info:
        run.trigger("submit_tool_outputs", tool_call_ids=["call_1"])
    assert "call_2" in str(info.value)
    assert info.value.guard == "outputs_cover_required_calls"
    assert run.state == "requires_action"
    with pytest.raises(GuardRejected):
        run.trigger("submit_tool_outputs", tool_call_ids=["call_1", "call_2", "call_9"])
    with pytest.raises(GuardRejected):
        run.trigger("submit_tool_outputs")
    run.trigger("submit_tool_outputs", tool_call_ids=["call_2", "call_1"])
    assert run.state == "queued"
    assert run.pending_tool_calls == ()


def test_cancel_trigger_records_the_request() -> None:
    """Triggering cancel is our own request: the journal entry is not external."""
    run = RunLifecycle()
    run.observe("in_progress")
    entry = run.trigger("cancel")
    assert run.state == "cancelling"
    assert not entry.external
    assert run.cancel_requested


def test_observe_same_status_adds_nothing() -> None:
    """The same status again changes nothing and journals nothing."""
    run = RunLifecycle()
    run.observe("in_progress")
    assert run.observe("in_progress") == []
    assert len(run.history) == 1
    assert run.anomalies == ()


def test_observe_skipped_statuses_are_inferred() -> None:
    """queued -> completed: the poll missed in_progress, which is journaled as inferred."""
    run = RunLifecycle()
    applied = run.observe("completed", at=3.0)
    assert [(e.source, e.dest, e.inferred) for e in applied] == [
        ("queued", "in_progress", True),
        ("in_progress", "completed", False),
    ]
    assert all(e.at == 3.0 and e.via == "poll" for e in applied)
    assert run.is_terminal
    assert run.take_commands() == [Finished(status="completed")]


def test_anomaly_count_and_anomalies_since_read_without_copying_all() -> None:
    """anomaly_count counts the anomalies; anomalies_since(n) gives those after the first n."""
    run = RunLifecycle()
    assert run.anomaly_count == 0
    assert run.anomalies_since(0) == ()
    run.observe("bogus")
    seen = run.anomaly_count
    run.observe("completed")
    run.observe("in_progress")
    run.observe("failed")
    assert run.anomaly_count == 3
    assert [a.kind for a in run.anomalies_since(seen)] == ["after_terminal", "terminal_flip"]
    assert run.anomalies_since(0) == run.anomalies
    assert run.anomalies_since(run.anomaly_count) == ()


def test_observe_unknown_status_is_an_anomaly() -> None:
    """A status the table does not know is recorded, the state kept."""
    run = RunLifecycle()
    run.observe("in_progress")
    assert run.observe("paused_for_review", at=7.0) == []
    assert run.state == "in_progress"
    (a,) = run.anomalies
    assert (a.kind, a.observed, a.state, a.at) == (
        "unknown_status",
        "paused_for_review",
        "in_progress",
        7.0,
    )


def test_observe_regression_is_rejected() -> None:
    """in_progress -> queued with no submit is a stale read: rejected, state kept (S03)."""
    run = RunLifecycle()
    run.observe("in_progress")
    assert run.observe("queued") == []
    assert run.state == "in_progress"
    assert run.anomalies[-1].kind == AnomalyKind.REGRESSION
    run.observe("completed")
    assert [e.dest for e in run.history] == ["in_progress", "completed"]


def test_observe_after_terminal_is_rejected() -> None:
    """cancelled then completed: the first terminal commits; the flip is an anomaly (S07)."""
    run = RunLifecycle()
    run.trigger("start")
    run.trigger("cancel")
    run.observe("cancelled")
    run.observe("completed")
    run.observe("in_progress")
    assert run.state == "cancelled"
    assert [a.kind for a in run.anomalies] == ["terminal_flip", "after_terminal"]


def test_strict_observe_raises_instead() -> None:
    """strict=True raises IllegalTransition naming the observed target."""
    run = RunLifecycle(strict=True)
    run.observe("in_progress")
    with pytest.raises(IllegalTransition) as info:
        run.observe("queued")
    assert (info.value.state, info.value.target) == ("in_progress", "queued")
    assert run.anomalies == ()
    assert RunLifecycle().observe("nonsense", strict=False) == []


def test_external_cancel_is_applied_and_flagged() -> None:
    """A cancel seen without our request is applied, flagged external, and noted."""
    run = RunLifecycle()
    run.observe("in_progress")
    (entry,) = run.observe("cancelling")
    assert entry.external
    assert run.state == "cancelling"
    assert run.anomalies[-1].kind == "external_cancel"


def test_external_cancel_is_inferred_when_cancelled_is_seen() -> None:
    """requires_action -> cancelled: someone cancelled; the cancelling step is inferred."""
    run = at_requires_action()
    applied = run.observe("cancelled")
    assert [(e.dest, e.inferred, e.external) for e in applied] == [
        ("cancelling", True, True),
        ("cancelled", False, False),
    ]


def test_no_foreign_cancel_plus_lost_race_is_inferred() -> None:
    """requires_action -> completed without our submit is not explained by cancel + lost race."""
    run = at_requires_action()
    assert run.observe("completed") == []
    assert run.state == "requires_action"
    assert run.anomalies[-1].kind == "regression"


def test_submit_edge_observed_without_submission_is_rejected() -> None:
    """requires_action -> queued seen without our submission is a stale read, not applied."""
    run = at_requires_action()
    assert run.observe("queued") == []
    assert run.observe("in_progress") == []
    assert run.state == "requires_action"


def test_submit_edge_after_recorded_submission_is_applied() -> None:
    """After our accepted submission, a poll showing in_progress infers the queued step."""
    run = at_requires_action()
    run.record_submission(["call_1", "call_2"])
    applied = run.observe("in_progress")
    assert [(e.trigger, e.inferred) for e in applied] == [
        ("submit_tool_outputs", True),
        ("start", False),
    ]


def test_entering_requires_action_emits_dispatch_once() -> None:
    """The machine callback emits DispatchTools with the calls; a repeat poll emits nothing."""
    run = at_requires_action()
    assert run.take_commands() == [DispatchTools(state="requires_action", tool_calls=CALLS)]
    run.observe("requires_action", tool_calls=CALLS)
    assert run.take_commands() == []


def test_requires_action_without_calls_is_an_anomaly() -> None:
    """A requires_action payload with no tool calls is recorded (never submit an empty set)."""
    run = RunLifecycle()
    run.observe("requires_action", tool_calls=[])
    assert run.anomalies[-1].kind == "missing_tool_calls"


def test_requires_action_payload_seen_later_starts_the_round() -> None:
    """requires_action first seen bare, then with calls: the dispatch comes with the calls."""
    run = RunLifecycle()
    run.observe("requires_action")
    assert run.take_commands() == [DispatchTools(state="requires_action", tool_calls=())]
    run.observe("requires_action", tool_calls=CALLS)
    assert run.take_commands() == [DispatchTools(state="requires_action", tool_calls=CALLS)]
    other = (ToolCall("call_9", "g", "{}"),)
    run.observe("requires_action", tool_calls=other)
    assert run.anomalies[-1].kind == "tool_calls_changed"
    assert run.pending_tool_calls == CALLS


def _answered_round() -> RunLifecycle:
    run = at_requires_action()
    run.take_commands()
    run.trigger("submit_tool_outputs", tool_call_ids=["call_1", "call_2"])
    return run


def test_stale_requires_action_after_our_submit_is_rejected_not_a_new_round() -> None:
    """After our accepted submit, requires_action asking for the same calls is a stale replay:
    no transition, no invented round, no dispatch; the anomaly says so."""
    run = _answered_round()
    journal = run.history
    assert run.observe("requires_action", via="poll", at=3.0, tool_calls=CALLS) == []
    assert run.state == "queued"
    assert run.history == journal
    assert run.take_commands() == []
    assert run.anomalies[-1].kind == "stale_round"
    assert run.anomalies[-1].state == "queued"
    with pytest.raises(IllegalTransition):
        run.observe("requires_action", tool_calls=CALLS[:1], strict=True)


def test_a_round_with_a_new_call_is_a_real_round() -> None:
    """A later requires_action with any call not answered before starts a round."""
    run = _answered_round()
    fresh = (*CALLS[:1], ToolCall("call_3", "g", "{}"))
    run.observe("requires_action", tool_calls=fresh)
    assert run.state == "requires_action"
    assert run.take_commands() == [DispatchTools(state="requires_action", tool_calls=fresh)]


def test_bare_requires_action_then_a_stale_payload_starts_no_round() -> None:
    """requires_action seen bare after a round, whose payload then names only answered calls:
    the stale payload starts nothing."""
    run = _answered_round()
    run.record_submission(["call_9"])  # a bare round we answer from elsewhere
    run.observe("requires_action")
    run.take_commands()
    run.observe("requires_action", tool_calls=CALLS)
    assert run.take_commands() == []
    assert run.pending_tool_calls == ()
    assert run.anomalies[-1].kind == "stale_round"


def test_answered_calls_survive_a_snapshot() -> None:
    """A restored lifecycle still knows which calls were answered."""
    run = RunLifecycle.restore(_answered_round().snapshot().model_dump_json())
    assert run.observe("requires_action", tool_calls=CALLS) == []
    assert run.anomalies[-1].kind == "stale_round"


def test_hooks_run_after_the_step_and_never_crash_the_engine() -> None:
    """Hooks see transitions, entered states, tool calls and anomalies; a raising hook is noted."""
    hooks = Hooks()
    seen: list[tuple[str, str]] = []

    @hooks.on_transition
    def every(run: RunLifecycle, entry: object) -> None:
        seen.append(("transition", run.state.value))

    @hooks.on_enter("requires_action")
    def entered(run: RunLifecycle, entry: object) -> None:
        seen.append(("enter", run.state.value))

    @hooks.on_requires_action
    def tools(run: RunLifecycle, calls: tuple[ToolCall, ...]) -> None:
        seen.append(("tools", ",".join(c.id for c in calls)))

    @hooks.on_anomaly
    def anomaly(run: RunLifecycle, a: object) -> None:
        seen.append(("anomaly", run.state.value))
        raise RuntimeError("sk-secret-in-a-hook")

    run = RunLifecycle(hooks=hooks)
    run.observe("requires_action", tool_calls=CALLS)
    run.observe("bogus")
    assert seen == [
        ("transition", "requires_action"),
        ("transition", "requires_action"),
        ("enter", "requires_action"),
        ("tools", "call_1,call_2"),
        ("anomaly", "requires_action"),
    ]
    kinds = [a.kind for a in run.anomalies]
    assert kinds == ["unknown_status", "hook_failed"]
    assert "sk-secret" not in repr(run.anomalies) + run.snapshot().model_dump_json()


def test_snapshot_round_trips_through_json_exactly() -> None:
    """snapshot -> JSON -> restore -> snapshot gives the same bytes, and the same behaviour."""
    run = at_requires_action()
    run.request_cancel()
    run.observe("weird")
    text = run.snapshot().model_dump_json()
    back = RunLifecycle.restore(text)
    assert back.snapshot().model_dump_json() == text
    assert back.state == "requires_action"
    assert back.pending_tool_calls == CALLS
    (entry,) = back.observe("cancelling")
    assert not entry.external  # the restored context remembers our cancel request
    assert json.loads(text)["lifecycle"] == "assistants-run"


def test_restore_rejects_a_bad_snapshot() -> None:
    """A snapshot naming an unknown lifecycle or state raises LifecycleError."""
    good = RunLifecycle().snapshot().model_dump()
    with pytest.raises(LifecycleError):
        RunLifecycle.restore({**good, "lifecycle": "nope"})
    with pytest.raises(LifecycleError):
        RunLifecycle.restore({**good, "state": "paused"})


def test_response_lifecycle_cancel_goes_straight_to_cancelled() -> None:
    """Responses have no cancelling status: our cancel moves queued -> cancelled directly."""
    run = RunLifecycle(RESPONSE)
    run.request_cancel()
    (entry,) = run.observe("cancelled")
    assert (entry.source, entry.dest, entry.external) == ("queued", "cancelled", False)


def test_clock_is_used_only_when_given() -> None:
    """Without `at`, the injected clock stamps the entry; without a clock, at is None."""
    ticks = iter([10.0, 11.0])
    run = RunLifecycle(clock=lambda: next(ticks))
    (entry,) = run.observe("in_progress")
    assert entry.at == 10.0
    (entry,) = RunLifecycle().observe("in_progress")
    assert entry.at is None


def test_repr_holds_no_payload() -> None:
    """Reprs show ids and sizes, not tool arguments."""
    call = ToolCall("call_1", "f", '{"api_key": "sk-abc"}')
    assert "sk-abc" not in repr(call)
    assert "sk-abc" not in repr(at_requires_action())


FORBIDDEN = {
    "openai",
    "httpx",
    "httpx2",
    "asyncio",
    "time",
    "requests",
    "uvicorn",
    "starlette",
    "anyio",
    "socket",
    "subprocess",
}


def test_core_imports_no_io_or_clock_modules() -> None:
    """lifecycle/ never imports I/O, clock or event-loop modules (parsed, not grepped)."""
    root = Path(__file__).resolve().parents[1] / "lifecycle"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
