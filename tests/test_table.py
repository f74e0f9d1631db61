"""The lifecycle tables: their facts, their derived sets and their structural checks."""

from __future__ import annotations

import typing

import pytest
from openai.types.beta.threads.run_status import RunStatus as SdkRunStatus
from openai.types.responses.response_status import ResponseStatus as SdkResponseStatus

from lifecycle import (
    ASSISTANTS_RUN,
    LIFECYCLES,
    RESPONSE,
    RUN_STEP,
    DefinitionError,
    Driver,
    Edge,
    EdgeKind,
    LifecycleSpec,
    ResponseStatus,
    RunStatus,
)
from lifecycle._status import StepStatus


def test_run_status_values_are_the_sdk_literals() -> None:
    """RunStatus holds exactly the nine API strings the SDK types know."""
    assert set(typing.get_args(SdkRunStatus)) == {s.value for s in RunStatus}
    assert len(RunStatus) == 9


def test_response_status_values_are_the_sdk_literals() -> None:
    """ResponseStatus holds exactly the Responses API's six statuses."""
    assert set(typing.get_args(SdkResponseStatus)) == {s.value for s in ResponseStatus}


def test_derived_sets_equal_the_documented_sets() -> None:
    """Terminal, awaiting-client and stop-polling sets come out of the table as documented."""
    spec = ASSISTANTS_RUN
    assert {s.value for s in spec.terminal} == {
        "cancelled",
        "failed",
        "completed",
        "incomplete",
        "expired",
    }
    assert spec.awaiting_client == {RunStatus.REQUIRES_ACTION}
    # the SDK's runs.poll() stop set (ground truth §1.1)
    assert {s.value for s in spec.stop_polling} == {
        "requires_action",
        "cancelled",
        "completed",
        "failed",
        "expired",
        "incomplete",
    }
    assert RESPONSE.awaiting_client == frozenset()
    assert {s.value for s in RESPONSE.stop_polling} == {
        "completed",
        "failed",
        "cancelled",
        "incomplete",
    }
    assert RUN_STEP.initial == StepStatus.IN_PROGRESS


def test_documented_and_tolerated_rows() -> None:
    """R2-R11 are documented edges, R12-R16 tolerated ones; each edge cites its evidence."""
    refs = {e.ref: e.kind for e in ASSISTANTS_RUN.edges}
    for n in range(2, 12):
        assert refs[f"R{n}"] is EdgeKind.DOCUMENTED
    for n in range(12, 17):
        assert refs[f"R{n}"] is EdgeKind.TOLERATED
    assert all(e.evidence for spec in LIFECYCLES.values() for e in spec.edges)


def test_client_edges_are_guarded() -> None:
    """Every client-driven edge carries a guard; no server-driven edge does."""
    for spec in LIFECYCLES.values():
        for e in spec.edges:
            assert (e.driver is Driver.CLIENT) == (e.guard is not None), e


def test_pinned_scenarios() -> None:
    """Known facts pinned by example, since a table-derived oracle cannot catch a wrong table."""
    spec = ASSISTANTS_RUN
    assert spec.edge("requires_action", "submit_tool_outputs").dest == "queued"  # type: ignore[union-attr]
    assert spec.edge("cancelling", "confirm_cancel").dest == "cancelled"  # type: ignore[union-attr]
    assert spec.successors("queued") == {
        RunStatus.IN_PROGRESS,
        RunStatus.CANCELLING,
        RunStatus.EXPIRED,
        RunStatus.FAILED,
    }
    assert spec.edge("completed", "start") is None
    assert [e.dest for e in spec.path("queued", "completed") or ()] == ["in_progress", "completed"]


def _spec(edges: tuple[Edge, ...], terminal: frozenset[StepStatus], initial: StepStatus) -> None:
    LifecycleSpec(
        name="bad", status_type=StepStatus, initial=initial, terminal=terminal, edges=edges
    )


def _e(src: str, trig: str, dst: str) -> Edge:
    return Edge("X", src, dst, trig, Driver.SERVER, EdgeKind.DOCUMENTED, "test")


ALL_DONE = frozenset(
    {StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.EXPIRED}
)
GOOD_EDGES = (
    _e("in_progress", "complete", "completed"),
    _e("in_progress", "fail", "failed"),
    _e("in_progress", "cancel", "cancelled"),
    _e("in_progress", "expire", "expired"),
)


def test_a_good_table_builds() -> None:
    """The fixture table used below is itself valid."""
    _spec(GOOD_EDGES, ALL_DONE, StepStatus.IN_PROGRESS)


@pytest.mark.parametrize(
    ("edges", "terminal", "initial", "problem", "states"),
    [
        (
            (*GOOD_EDGES, _e("completed", "reopen", "in_progress")),
            ALL_DONE,
            StepStatus.IN_PROGRESS,
            "terminal_has_edges",
            ("completed",),
        ),
        (GOOD_EDGES[:3], ALL_DONE, StepStatus.IN_PROGRESS, "unreachable", ("expired",)),
        (
            (*GOOD_EDGES, _e("in_progress", "complete", "failed")),
            ALL_DONE,
            StepStatus.IN_PROGRESS,
            "duplicate_trigger",
            ("in_progress",),
        ),
        (
            GOOD_EDGES,
            ALL_DONE - {StepStatus.EXPIRED},
            StepStatus.IN_PROGRESS,
            "trap",
            ("expired",),
        ),
        (GOOD_EDGES, ALL_DONE, StepStatus.COMPLETED, "initial", ("completed",)),
    ],
)
def test_bad_tables_are_rejected_naming_the_states(
    edges: tuple[Edge, ...],
    terminal: frozenset[StepStatus],
    initial: StepStatus,
    problem: str,
    states: tuple[str, ...],
) -> None:
    """Each structural rule raises DefinitionError naming the offending states."""
    with pytest.raises(DefinitionError) as info:
        _spec(edges, terminal, initial)
    assert info.value.problem == problem
    assert info.value.states == states
    for s in states:
        assert s in str(info.value)
