"""Route planning: which edges explain a status observed from a state.

Theory of operation
-------------------
A poll is a snapshot: the status it shows may be several edges away from the run's state. A plan
answers "which edges, and which guards are flagged" for one observation, from the table and the
guards' current answers (:func:`choose`): a direct edge whose guard passes; else the shortest path
avoiding every edge whose guard fails; else a path that uses client edges with a
``FLAG_EXTERNAL`` policy (a cancel someone else made), as long as no tolerated server edge
follows them. ``REQUIRE_GUARD`` edges (our submit) are never inferred without our submission.

Plans are computed once per spec, not per observation, wherever they cannot depend on the
guards: :func:`compile_routes` tries every combination of passing and failing guards for every
``(state, observed status)`` pair, and where all give the same path and that path has no guarded
edge, it stores a :class:`Route` (the ``transitions`` events to fire, the journal fields, and
whether the route opens or closes a tool-call round). A direct guarded edge into a status that
is not awaiting-client (our submit's ``queued``) gets a one-step route too: ``transitions``
evaluates its guard as the condition, and when it refuses, nothing has changed and the engine
plans from scratch. Replays (``assume_client=True``) have routes of their own, where every
client edge counts as requested. Everything else is planned per call with :func:`plan`, from the
guards' current answers; both ways give the same path (the property tests check the engine
against the table).
"""

from __future__ import annotations

from itertools import combinations
from typing import TYPE_CHECKING, Any, NamedTuple

from transitions.core import Event

from lifecycle._guards import GUARDS
from lifecycle._spec import Edge, EdgeKind, LifecycleSpec

if TYPE_CHECKING:
    from lifecycle._machine import RunLifecycle

__all__ = ["NO_BLOCK", "Plan", "Route", "Step", "choose", "compile_routes", "plan"]

NO_BLOCK: frozenset[str] = frozenset()  # no guard blocked

Plan = tuple[tuple[Edge, ...], frozenset[str]]

#: above this many guards, plans are not analysed for guard independence (2**n combinations)
_MAX_ANALYSED_GUARDS = 6


class Step(NamedTuple):
    """One edge of a precomputed route, with everything firing and journaling it needs."""

    event: Event
    source: str
    dest: str
    trigger: str
    kind: str
    inferred: bool
    guarded: bool
    closes_round: bool  # it leaves an awaiting-client status: the tool-call round ends


class Route(NamedTuple):
    """The edges that explain one observed status from one state."""

    steps: tuple[Step, ...]
    opens_round: bool  # it ends in an awaiting-client status: a tool-call round begins


def choose(
    spec: LifecycleSpec[Any], source: str, target: str, failing: frozenset[str]
) -> Plan | None:
    """The edges that explain ``target`` seen in ``source`` when the ``failing`` guards fail,
    and which guards are flagged (see :func:`plan`)."""
    direct = spec.edge_between(source, target)
    if direct is not None and (direct.guard is None or direct.guard not in failing):
        return (direct,), NO_BLOCK
    path = spec.path(source, target, blocked=failing)
    if path is not None:
        return path, NO_BLOCK
    flaggable = failing - spec.require_guard_names
    if not flaggable:
        return None
    path = spec.path(source, target, blocked=failing - flaggable)
    if path is None:
        return None
    seen_external = False
    for edge in path:
        if edge.guard in flaggable:
            seen_external = True
        elif seen_external and edge.kind is EdgeKind.TOLERATED:
            return None
    return path, flaggable


def plan(run: RunLifecycle, target: str, assume_client: bool) -> Plan | None:
    """Choose the edges that explain an observed ``target``, and which guards are flagged.

    A direct unguarded edge is the common case. Otherwise the shortest path avoiding every edge
    whose guard does not pass; failing that, client edges with a ``FLAG_EXTERNAL`` policy may
    be used (a cancel someone else made) as long as no tolerated server edge follows them (we
    do not infer a foreign cancel *and* a lost race). ``REQUIRE_GUARD`` edges (our submit) are
    never inferred without our submission.
    """
    spec = run.spec
    if assume_client:
        direct = spec.edge_between(run._status, target)
        if direct is not None:
            return (direct,), NO_BLOCK
        path = spec.path(run._status, target)
        return (path, NO_BLOCK) if path is not None else None
    ctx = run._context()
    failing = frozenset(n for n in spec.guard_names if GUARDS[n](ctx, {}) is not None)
    return choose(spec, run._status, target, failing)


def _route(spec: LifecycleSpec[Any], events: dict[str, Event], path: tuple[Edge, ...]) -> Route:
    awaiting = spec.awaiting_client_values
    last = len(path) - 1
    steps = tuple(
        Step(
            events[e.trigger],
            e.source,
            e.dest,
            e.trigger,
            e.kind.value,
            i < last,
            e.guard is not None,
            e.source in awaiting,
        )
        for i, e in enumerate(path)
    )
    return Route(steps, path[-1].dest in awaiting)


def compile_routes(
    spec: LifecycleSpec[Any], events: dict[str, Event]
) -> tuple[dict[tuple[str, str], Route], dict[tuple[str, str], Route]]:
    """Precompute the routes of every ``(state, observed status)`` pair that has one: the live
    routes and the replay (``assume_client=True``) routes."""
    names = sorted(spec.guard_names)
    combos = (
        [frozenset(c) for r in range(len(names) + 1) for c in combinations(names, r)]
        if len(names) <= _MAX_ANALYSED_GUARDS
        else []
    )
    live: dict[tuple[str, str], Route] = {}
    replay: dict[tuple[str, str], Route] = {}
    for source in sorted(spec.state_values - spec.terminal_values):
        for target in sorted(spec.state_values - {source}):
            direct = spec.edge_between(source, target)
            plans = {choose(spec, source, target, failing) for failing in combos}
            only = plans.pop() if len(plans) == 1 else None
            if direct is not None and direct.guard is None:
                live[source, target] = _route(spec, events, (direct,))
            elif only is not None and all(e.guard is None for e in only[0]):
                # the same path whatever the guards say (such a path has no guarded edge; the
                # check keeps a route from ever stopping halfway on a refused condition)
                live[source, target] = _route(spec, events, only[0])
            elif direct is not None and target not in spec.awaiting_client_values:
                live[source, target] = _route(spec, events, (direct,))  # its guard decides
            path = (direct,) if direct is not None else spec.path(source, target)
            if path:
                replay[source, target] = _route(spec, events, path)
    return live, replay
