"""Gaps found by mutation testing in the table spec's views (issue 14; docs/mutation.md): the
successors, the edge per trigger, parsing, the guard sets, edges keeping plain strings, and
shortest paths that avoid blocked guards."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest

from lifecycle import LIFECYCLES, Driver, Edge, EdgeKind, RunStatus
from lifecycle._spec import LifecycleSpec, ObservedPolicy

SPECS = sorted(LIFECYCLES.values(), key=lambda s: s.name)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_successors_and_edges_by_trigger_are_the_tables(spec: LifecycleSpec[Any]) -> None:
    for state in spec.states:
        assert spec.successors(state) == {spec.status_type(e.dest) for e in spec.edges_from(state)}
    for e in spec.edges:
        assert spec.edge(e.source, e.trigger) is e
    assert spec.edge(spec.initial, "no_such_trigger") is None


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_parse_knows_exactly_the_tables_statuses(spec: LifecycleSpec[Any]) -> None:
    for state in spec.states:
        assert spec.parse(state.value) is state
    assert spec.parse("no_such_status") is None


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_the_guard_sets(spec: LifecycleSpec[Any]) -> None:
    guarded = [e for e in spec.edges if e.guard is not None]
    assert spec.guard_names == {e.guard for e in guarded}
    assert spec.require_guard_names == {
        e.guard for e in guarded if e.when_observed is ObservedPolicy.REQUIRE_GUARD
    }


def test_the_assistants_guards_are_the_submit_and_the_cancel() -> None:
    spec = LIFECYCLES["assistants-run"]
    assert spec.guard_names == {"outputs_cover_required_calls", "cancel_was_requested"}
    assert spec.require_guard_names == {"outputs_cover_required_calls"}


def test_an_edge_stores_plain_strings() -> None:
    edge = Edge(
        "X",
        RunStatus.QUEUED,
        RunStatus.IN_PROGRESS,
        "start",
        Driver.SERVER,
        EdgeKind.DOCUMENTED,
        "t",
    )
    assert (type(edge.source), type(edge.dest)) == (str, str)
    assert (edge.source, edge.dest) == ("queued", "in_progress")


def _distance(spec: LifecycleSpec[Any], source: str, dest: str, blocked: frozenset[str]) -> int:
    """Breadth-first distance over the edges not blocked, or -1."""
    seen, queue = {source: 0}, deque([source])
    while queue:
        here = queue.popleft()
        for e in spec.edges_from(here):
            if e.guard in blocked or e.dest in seen:
                continue
            seen[e.dest] = seen[here] + 1
            queue.append(e.dest)
    return seen.get(dest, -1)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_paths_are_shortest_chains_that_avoid_blocked_guards(spec: LifecycleSpec[Any]) -> None:
    for blocked in (frozenset(), spec.guard_names, spec.require_guard_names):
        for source in spec.state_values:
            for dest in spec.state_values:
                path = spec.path(source, dest, blocked=blocked)
                distance = _distance(spec, source, dest, blocked)
                if distance < 0:
                    assert path is None, (source, dest)
                    continue
                assert path is not None, (source, dest)
                assert len(path) == distance
                here = source
                for e in path:
                    assert e.source == here
                    assert e.guard not in blocked
                    here = e.dest
                assert here == dest
