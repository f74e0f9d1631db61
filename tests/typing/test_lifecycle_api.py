"""The public ``lifecycle`` API as the README and docs use it, with its types pinned.

Two checks in one file. ``mypy tests/typing`` (strict, from pyproject.toml) fails when a public
signature changes type: every ``assert_type`` states what a call returns. pytest runs the same
code as ordinary, cheap tests, so the examples also keep working at run time.

Only names from ``lifecycle`` (and ``lifecycle.testing``) are imported here: a name a user needs
that is not exported would fail both checks.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from typing import Any, assert_type

import pytest
from hypothesis import strategies as st

import lifecycle
from lifecycle import (
    ASSISTANTS_RUN,
    LIFECYCLES,
    RESPONSE,
    RUN_STEP,
    Anomaly,
    AnomalyKind,
    CallState,
    Command,
    DispatchTools,
    Driver,
    Edge,
    EdgeKind,
    Finished,
    GuardRejected,
    Hooks,
    IllegalTransition,
    JournalEntry,
    LedgerEntry,
    LifecycleError,
    LifecycleSnapshot,
    LifecycleSpec,
    Observation,
    ObservedPolicy,
    ResponseStatus,
    RunLifecycle,
    RunStatus,
    StepStatus,
    ToolCall,
    ToolLedger,
    ToolOutput,
    ToolRegistry,
    ToolSpec,
    TraceError,
    TraceFinding,
    TraceReport,
    Via,
    check_trace,
    read_trace,
    redact_secrets,
)
from lifecycle.testing import (
    LifecycleConformance,
    illegal_steps,
    legal_traces,
    observations,
    polled_traces,
)

CALL = ToolCall("call_1", "calculate_order_total", "{}")


def test_the_core_in_ten_lines() -> None:
    """The README's first example: observe, history, anomalies, commands, a strict trigger."""
    run = RunLifecycle()
    applied = run.observe("completed", via="poll", at=12.0)
    assert_type(applied, list[JournalEntry])
    assert_type(run.history, tuple[JournalEntry, ...])
    assert_type(run.history[0].inferred, bool)
    assert run.history[0].inferred
    run.observe("in_progress")
    assert_type(run.anomalies, tuple[Anomaly, ...])
    assert_type(run.anomalies[-1].kind, str)
    assert run.anomalies[-1].kind == AnomalyKind.AFTER_TERMINAL
    assert_type(run.anomaly_count, int)
    assert_type(run.anomalies_since(0), tuple[Anomaly, ...])
    assert_type(run.state, Any)
    assert run.state == RunStatus.COMPLETED
    assert_type(run.is_terminal, bool)

    fresh = RunLifecycle()
    fresh.observe("requires_action", tool_calls=[CALL])
    assert_type(fresh.awaiting_client, bool)
    assert_type(fresh.pending_tool_calls, tuple[ToolCall, ...])
    commands = fresh.take_commands()
    assert_type(commands, list[Command])
    assert_type(commands, list[DispatchTools | Finished])
    [cmd] = commands
    assert isinstance(cmd, DispatchTools)
    assert_type(cmd.tool_calls, tuple[ToolCall, ...])
    entry = fresh.trigger("submit_tool_outputs", tool_call_ids=["call_1"])
    assert_type(entry, JournalEntry)
    assert (entry.source, entry.dest, entry.via) == ("requires_action", "queued", Via.CLIENT)


def test_client_intents_and_errors() -> None:
    """Cancels and submissions are recorded; illegal moves raise typed errors with attributes."""
    run = RunLifecycle(strict=False, clock=lambda: 3.0)
    assert_type(run.request_cancel(), None)
    assert_type(run.record_submission(["call_1"]), None)
    assert_type(run.cancel_requested, bool)
    with pytest.raises(IllegalTransition) as illegal:
        run.trigger("complete")
    assert_type(illegal.value.state, str)
    assert_type(illegal.value.trigger, str | None)
    assert isinstance(illegal.value, LifecycleError)
    run.observe("in_progress")
    run.observe("requires_action", tool_calls=[CALL, ToolCall("call_2", "f", "{}")])
    with pytest.raises(GuardRejected) as rejected:
        run.trigger("submit_tool_outputs", tool_call_ids=["call_1"])
    assert_type(rejected.value.guard, str)


def test_snapshot_and_restore() -> None:
    """snapshot() is a pydantic model; restore() takes it, its dict or its JSON."""
    run = RunLifecycle()
    run.observe("requires_action", tool_calls=[CALL])
    snapshot = run.snapshot()
    assert_type(snapshot, LifecycleSnapshot)
    text = snapshot.model_dump_json()
    assert_type(RunLifecycle.restore(text), RunLifecycle)
    assert_type(RunLifecycle.restore(snapshot), RunLifecycle)
    back = RunLifecycle.restore(snapshot.model_dump(), hooks=Hooks(), strict=True)
    assert back.snapshot().model_dump_json() == text


def test_hooks_keep_the_types_of_the_functions_they_decorate() -> None:
    """The README's hooks: each decorator returns the function, typed."""
    hooks = Hooks()
    seen: list[str] = []

    @hooks.on_transition
    def log_it(run: RunLifecycle, entry: JournalEntry) -> None:
        seen.append(f"{entry.source}->{entry.dest}")

    @hooks.on_enter("completed")
    def done(run: RunLifecycle, entry: JournalEntry) -> None:
        seen.append("done")

    @hooks.on_requires_action
    def tools(run: RunLifecycle, calls: tuple[ToolCall, ...]) -> None:
        seen.append(",".join(c.id for c in calls))

    @hooks.on_anomaly
    def alert(run: RunLifecycle, anomaly: Anomaly) -> None:
        seen.append(anomaly.kind)

    assert_type(log_it, Callable[[RunLifecycle, JournalEntry], None])
    assert_type(done, Callable[[RunLifecycle, JournalEntry], None])
    assert_type(tools, Callable[[RunLifecycle, tuple[ToolCall, ...]], None])
    assert_type(alert, Callable[[RunLifecycle, Anomaly], None])
    run = RunLifecycle(hooks=hooks)
    run.observe("requires_action", tool_calls=[CALL])
    run.observe("bogus")
    assert seen == [
        "queued->in_progress",
        "in_progress->requires_action",
        "call_1",
        "unknown_status",
    ]


def test_a_typed_tool_keeps_its_signature() -> None:
    """@tools.tool returns the function unchanged, so calls keep their types."""
    tools = ToolRegistry()

    @tools.tool
    def calculate_order_total(items: list[dict[str, object]]) -> float:
        """Price an order."""
        prices = {"books": 10.0, "stationery": 5.0}
        return sum(prices[str(i["item_type"])] * int(str(i["quantity"])) for i in items)

    @tools.tool(name="greet")
    def hello(name: str) -> str:
        """Say hello."""
        return f"hello {name}"

    assert_type(calculate_order_total([{"item_type": "books", "quantity": 2}]), float)
    assert_type(hello("ada"), str)
    assert_type(tools.names, tuple[str, ...])
    assert tools.names == ("calculate_order_total", "greet")
    assert_type(tools.get("greet"), ToolSpec | None)
    assert_type(tools.definitions(), list[dict[str, Any]])
    assert_type(redact_secrets("key sk-abcdefgh"), str)
    assert_type(ToolOutput("call_1", "20.0", "20.0").ok, bool)


def test_tool_ledger() -> None:
    """The ledger records each call's fate (the controller's outcome reports it)."""
    ledger = ToolLedger()
    assert_type(ledger.intend(CALL), LedgerEntry)
    assert_type(ledger.claim("call_1"), bool)
    assert_type(ledger.state_of("call_1"), CallState | None)
    assert ledger.state_of("call_1") is CallState.STARTED


def test_traces() -> None:
    """read_trace / check_trace, as `lifecycle check` uses them."""
    observed = read_trace('queued\n{"status": "in_progress", "at": 1.5}\ncompleted\nqueued\n')
    assert_type(observed, list[Observation])
    report = check_trace(observed, ASSISTANTS_RUN)
    assert_type(report, TraceReport)
    assert_type(report.ok, bool)
    assert_type(report.anomalies, list[TraceFinding])
    assert_type(report.lines(), list[str])
    assert_type(report.run, RunLifecycle)
    assert [(f.line, f.kind) for f in report.anomalies] == [(4, "after_terminal")]
    with pytest.raises(TraceError) as error:
        read_trace("# nothing\n")
    assert_type(error.value.line, int)
    assert isinstance(error.value, LifecycleError)


def test_tables_and_spec_views() -> None:
    """The tables and the sets derived from them."""
    assert_type(ASSISTANTS_RUN, LifecycleSpec[RunStatus])
    assert_type(RUN_STEP, LifecycleSpec[StepStatus])
    assert_type(RESPONSE, LifecycleSpec[ResponseStatus])
    assert_type(LIFECYCLES, dict[str, LifecycleSpec[Any]])
    spec = ASSISTANTS_RUN
    assert_type(spec.initial, RunStatus)
    assert_type(spec.terminal, frozenset[RunStatus])
    assert_type(spec.awaiting_client, frozenset[RunStatus])
    assert_type(spec.stop_polling, frozenset[RunStatus])
    assert_type(spec.successors("queued"), frozenset[RunStatus])
    assert_type(spec.parse("queued"), RunStatus | None)
    assert_type(spec.triggers, tuple[str, ...])
    assert_type(spec.edges, tuple[Edge, ...])
    assert_type(spec.edges_from("queued"), tuple[Edge, ...])
    assert_type(spec.edge("queued", "start"), Edge | None)
    path = spec.path("queued", "completed")
    assert_type(path, tuple[Edge, ...] | None)
    assert path is not None
    edge = path[0]
    assert_type(edge.kind, EdgeKind)
    assert_type(edge.driver, Driver)
    assert_type(edge.guard, str | None)
    assert_type(edge.when_observed, ObservedPolicy)
    assert spec.awaiting_client == {RunStatus.REQUIRES_ACTION}


def test_testing_strategies() -> None:
    """lifecycle.testing: strategies typed by what they draw, and the conformance machine."""
    assert_type(legal_traces(), st.SearchStrategy[list[str]])
    assert_type(polled_traces(RESPONSE), st.SearchStrategy[list[str]])
    assert_type(illegal_steps(), st.SearchStrategy[tuple[str, str]])
    assert_type(observations(unknown=False), st.SearchStrategy[str])
    assert issubclass(LifecycleConformance, object)


def test_all_names_resolve_and_internal_names_warn() -> None:
    """Every exported name resolves; a dropped one still imports, with a warning."""
    missing = [name for name in lifecycle.__all__ if not hasattr(lifecycle, name)]
    assert missing == []
    for name in ("GUARDS", "GuardContext", "build_machine", "Prepared"):
        assert name not in lifecycle.__all__
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert getattr(lifecycle, name) is not None
        assert [w.category for w in caught] == [DeprecationWarning]
        assert "lifecycle._" in str(caught[0].message)


def test_import_lifecycle_does_not_load_pydantic() -> None:
    """The pydantic-backed parts load on first use, not with the package."""
    code = (
        "import sys, lifecycle; assert 'pydantic' not in sys.modules, 'pydantic loaded'; "
        "lifecycle.ToolRegistry; assert 'pydantic' in sys.modules"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
