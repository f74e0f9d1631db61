"""Gaps found by mutation testing in the precomputed observation routes (issue 14;
docs/mutation.md). ``observe()`` falls back to planning when a pair has no route, so a route that
is missing changes no outcome, only the hot path's speed (benchmarks/bench_engine.py); these
tests pin which pairs have one and that every step carries its edge's facts."""

from __future__ import annotations

from itertools import combinations
from typing import Any

import pytest

from lifecycle import LIFECYCLES
from lifecycle._machine_build import compile_spec
from lifecycle._machine_routes import NO_BLOCK, Route, choose
from lifecycle._spec import Edge, LifecycleSpec

SPECS = sorted(LIFECYCLES.values(), key=lambda s: s.name)


def _pairs(spec: LifecycleSpec[Any]) -> list[tuple[str, str]]:
    return [
        (source, target)
        for source in sorted(spec.state_values - spec.terminal_values)
        for target in sorted(spec.state_values - {source})
    ]


def _edges(route: Route) -> list[tuple[str, str, str]]:
    return [(s.source, s.trigger, s.dest) for s in route.steps]


def _triples(path: tuple[Edge, ...]) -> list[tuple[str, str, str]]:
    return [(e.source, e.trigger, e.dest) for e in path]


def _guard_combos(spec: LifecycleSpec[Any]) -> list[frozenset[str]]:
    names = sorted(spec.guard_names)
    return [frozenset(c) for r in range(len(names) + 1) for c in combinations(names, r)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_every_step_of_every_route_carries_its_edges_facts(spec: LifecycleSpec[Any]) -> None:
    """Event, source, dest, trigger, kind, inferred (every step but the last), guarded, closing
    a round (leaving an awaiting-client status); a route opens a round when it ends in one."""
    compiled = compile_spec(spec)
    awaiting = spec.awaiting_client_values
    for routes in (compiled.routes, compiled.replay_routes):
        for (source, target), route in routes.items():
            assert route.steps[0].source == source
            assert route.steps[-1].dest == target
            for i, step in enumerate(route.steps):
                edge = spec.edge_between(step.source, step.dest)
                assert edge is not None
                assert step.event is compiled.events[step.trigger]
                assert step.kind == edge.kind.value
                assert step.inferred is (i < len(route.steps) - 1)
                assert step.guarded is (edge.guard is not None)
                assert step.closes_round is (step.source in awaiting)
            assert route.opens_round is (target in awaiting)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_replay_routes_are_the_direct_edge_or_the_shortest_path(spec: LifecycleSpec[Any]) -> None:
    """Every pair with an explanation has a replay route, and no other pair does."""
    replay = compile_spec(spec).replay_routes
    for source, target in _pairs(spec):
        direct = spec.edge_between(source, target)
        path = (direct,) if direct is not None else spec.path(source, target)
        if path:
            assert _edges(replay[source, target]) == _triples(path), (source, target)
        else:
            assert (source, target) not in replay


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
def test_live_routes_cover_exactly_the_pairs_explained_whatever_the_guards(
    spec: LifecycleSpec[Any],
) -> None:
    """A live route exists for a direct unguarded edge, for a path without guarded edges that
    every combination of guard answers chooses, and for a guarded direct edge not into an
    awaiting-client status (its guard decides when it fires); it is the plan's path."""
    live = compile_spec(spec).routes
    combos = _guard_combos(spec)
    assert len(combos) == 2 ** len(spec.guard_names)
    expected = set()
    for source, target in _pairs(spec):
        direct = spec.edge_between(source, target)
        plans = {choose(spec, source, target, failing) for failing in combos}
        same = plans.pop() if len(plans) == 1 else None
        if (
            (direct is not None and direct.guard is None)
            or (same is not None and all(e.guard is None for e in same[0]))
            or (direct is not None and target not in spec.awaiting_client_values)
        ):
            expected.add((source, target))
            planned = choose(spec, source, target, NO_BLOCK)
            assert planned is not None
            assert _edges(live[source, target]) == _triples(planned[0]), (source, target)
    assert set(live) == expected


def test_the_assistants_run_has_live_routes_of_each_kind() -> None:
    """One of each: a direct edge, an inferred two-step path, a guarded direct edge; none for a
    regression."""
    live = compile_spec(LIFECYCLES["assistants-run"]).routes
    assert _edges(live["queued", "in_progress"]) == [("queued", "start", "in_progress")]
    two = live["queued", "completed"]
    assert [s.dest for s in two.steps] == ["in_progress", "completed"]
    assert [s.inferred for s in two.steps] == [True, False]
    (cancel,) = live["in_progress", "cancelling"].steps
    assert (cancel.trigger, cancel.guarded) == ("cancel", True)
    assert ("in_progress", "queued") not in live
    assert ("completed", "queued") not in live
