"""The data model of a lifecycle table and everything derived from it.

A :class:`LifecycleSpec` is built from plain data (states, one initial state, the terminal states,
and a tuple of :class:`Edge`). Building it runs the structural checks of ``_checks.py`` and then
derives, once, every view the rest of the code needs: successor sets, the edge index, the terminal
and "awaiting client" sets, the "stop polling" set and shortest observation paths. No other module
lists statuses by hand; they all read these views.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Generic, TypeVar

from lifecycle._checks import check_table

__all__ = ["Driver", "Edge", "EdgeKind", "LifecycleSpec", "ObservedPolicy"]

S = TypeVar("S", bound=StrEnum)


class Driver(StrEnum):
    """Who makes an edge happen."""

    SERVER = "server"  #: the server moves the run on its own
    CLIENT = "client"  #: a client action (submit, cancel) causes it


class EdgeKind(StrEnum):
    """How sure we are that the edge exists."""

    DOCUMENTED = "documented"  #: stated by the API docs, spec or an SDK docstring
    TOLERATED = "tolerated"  #: plausible but undocumented: allowed, and journaled as such


class ObservedPolicy(StrEnum):
    """What ``observe()`` does when it needs a *guarded* edge whose guard does not pass.

    A guarded edge is client-driven: we expect to have asked for it. When a poll shows it without
    our request, the policy decides whether the server's word is taken.
    """

    APPLY = "apply"  #: unguarded edge: always applied
    FLAG_EXTERNAL = "flag_external"  #: applied, journaled ``external=True``, anomaly recorded
    REQUIRE_GUARD = "require_guard"  #: not traversable; the observation is a regression


@dataclass(frozen=True, slots=True)
class Edge:
    """One transition of a lifecycle table.

    Attributes:
        ref: the row of the ground-truth reference that justifies it (``"R4"``).
        source: the status the edge leaves.
        dest: the status the edge enters.
        trigger: the trigger name; unique per source.
        driver: who causes it (server or client action).
        kind: documented, or tolerated (plausible but undocumented).
        evidence: a short note on where the edge comes from.
        guard: the name of a pure predicate in ``lifecycle._guards.GUARDS``, or ``None``.
        when_observed: what an observation does when the guard does not pass.
    """

    ref: str
    source: str
    dest: str
    trigger: str
    driver: Driver
    kind: EdgeKind
    evidence: str
    guard: str | None = None
    when_observed: ObservedPolicy = ObservedPolicy.APPLY

    def __post_init__(self) -> None:
        # statuses may be given as StrEnum members; store the plain API strings
        object.__setattr__(self, "source", str(self.source))
        object.__setattr__(self, "dest", str(self.dest))


@dataclass(frozen=True, eq=False)
class LifecycleSpec(Generic[S]):
    """A checked, immutable lifecycle: states, initial state, terminal states and edges.

    Building one runs the structural checks and raises :class:`lifecycle.DefinitionError` naming
    the offending states when the table is malformed.

    Attributes:
        name: a short identifier (``"assistants-run"``), also used by the CLI.
        status_type: the StrEnum of the statuses.
        initial: the one initial status.
        terminal: the statuses with no way out.
        edges: every edge, in table order.
        initial_evidence: where the initial status comes from.
        title: a human title for diagrams.
    """

    name: str
    status_type: type[S]
    initial: S
    terminal: frozenset[S]
    edges: tuple[Edge, ...]
    initial_evidence: str = ""
    title: str = ""
    _succ: Mapping[str, frozenset[S]] = field(init=False, repr=False)
    _by_trigger: Mapping[tuple[str, str], Edge] = field(init=False, repr=False)
    _by_pair: Mapping[tuple[str, str], Edge] = field(init=False, repr=False)
    _paths: dict[tuple[str, str, frozenset[str]], tuple[Edge, ...] | None] = field(
        init=False, repr=False
    )
    #: string views, precomputed for the engine's hot path
    state_values: frozenset[str] = field(init=False, repr=False)
    terminal_values: frozenset[str] = field(init=False, repr=False)
    awaiting_client_values: frozenset[str] = field(init=False, repr=False)
    require_guard_names: frozenset[str] = field(init=False, repr=False)
    guard_names: frozenset[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        check_table(
            self.name,
            states=[s.value for s in self.status_type],
            initial=self.initial.value,
            terminal=[s.value for s in self.terminal],
            edges=[(e.source, e.trigger, e.dest) for e in self.edges],
        )
        succ: dict[str, set[S]] = {s.value: set() for s in self.status_type}
        by_trigger: dict[tuple[str, str], Edge] = {}
        by_pair: dict[tuple[str, str], Edge] = {}
        for edge in self.edges:
            succ[edge.source].add(self.status_type(edge.dest))
            by_trigger[edge.source, edge.trigger] = edge
            # keep the first edge per (source, dest) pair: the table lists documented edges first
            by_pair.setdefault((edge.source, edge.dest), edge)
        object.__setattr__(self, "_succ", {k: frozenset(v) for k, v in succ.items()})
        object.__setattr__(self, "_by_trigger", by_trigger)
        object.__setattr__(self, "_by_pair", by_pair)
        object.__setattr__(self, "_paths", {})
        object.__setattr__(self, "state_values", frozenset(s.value for s in self.status_type))
        object.__setattr__(self, "terminal_values", frozenset(s.value for s in self.terminal))
        object.__setattr__(
            self, "awaiting_client_values", frozenset(s.value for s in self.awaiting_client)
        )
        object.__setattr__(
            self, "guard_names", frozenset(e.guard for e in self.edges if e.guard is not None)
        )
        object.__setattr__(
            self,
            "require_guard_names",
            frozenset(
                e.guard
                for e in self.edges
                if e.guard is not None and e.when_observed is ObservedPolicy.REQUIRE_GUARD
            ),
        )

    # -- views -------------------------------------------------------------------------------

    @property
    def states(self) -> tuple[S, ...]:
        """Every status, in the enum's order."""
        return tuple(self.status_type)

    @property
    def non_terminal(self) -> frozenset[S]:
        """Statuses from which the run can still move."""
        return frozenset(s for s in self.status_type if s not in self.terminal)

    @cached_property
    def awaiting_client(self) -> frozenset[S]:
        """Statuses where only the client can move the work forward.

        Derived: a non-terminal status whose every server-driven edge ends the run (the server
        can only end it, e.g. expire) and which has a client-driven edge to a non-terminal status
        (the client can move the work on, e.g. submit). For Assistants runs this is
        ``{requires_action}``; Responses have none.
        """
        result = set()
        for s in self.non_terminal:
            out = [e for e in self.edges if e.source == s.value]
            server = [e for e in out if e.driver is Driver.SERVER]
            onward = [
                e
                for e in out
                if e.driver is Driver.CLIENT and self.status_type(e.dest) not in self.terminal
            ]
            if onward and all(self.status_type(e.dest) in self.terminal for e in server):
                result.add(s)
        return frozenset(result)

    @property
    def stop_polling(self) -> frozenset[S]:
        """Where a poller stops and hands over: terminal plus awaiting-client statuses.

        This is the set the SDK's ``runs.poll()`` calls "terminal"; here it is derived.
        """
        return self.terminal | self.awaiting_client

    @property
    def triggers(self) -> tuple[str, ...]:
        """Every trigger name, in first-seen table order."""
        return tuple(dict.fromkeys(e.trigger for e in self.edges))

    def parse(self, status: str) -> S | None:
        """Return the status member for an API string, or ``None`` if the table does not know it."""
        try:
            return self.status_type(status)
        except ValueError:
            return None

    def successors(self, state: str) -> frozenset[S]:
        """Statuses reachable from ``state`` by one edge."""
        return self._succ[str(state)]

    def edges_from(self, state: str) -> tuple[Edge, ...]:
        """Edges leaving ``state``, in table order."""
        return tuple(e for e in self.edges if e.source == state)

    def edge(self, source: str, trigger: str) -> Edge | None:
        """The edge for ``(source, trigger)``, or ``None``."""
        return self._by_trigger.get((str(source), trigger))

    def edge_between(self, source: str, dest: str) -> Edge | None:
        """The first edge from ``source`` to ``dest`` in table order, or ``None``."""
        return self._by_pair.get((str(source), str(dest)))

    def path(
        self, source: str, dest: str, *, blocked: Iterable[str] = ()
    ) -> tuple[Edge, ...] | None:
        """Shortest edge path from ``source`` to ``dest``, avoiding edges whose guard is blocked.

        Breadth-first over the table, edges visited in table order, so the result is deterministic
        and prefers documented edges on ties (they come first). Results are cached.

        Args:
            source: the starting status.
            dest: the target status.
            blocked: guard names whose edges may not be used (the ``REQUIRE_GUARD`` edges whose
                guard does not currently pass).

        Returns:
            The edges to follow (empty when ``source == dest``), or ``None`` when unreachable.
        """
        key = (str(source), str(dest), frozenset(blocked))
        try:
            return self._paths[key]
        except KeyError:
            found = self._bfs(*key)
            self._paths[key] = found
            return found

    def _bfs(self, source: str, dest: str, blocked: frozenset[str]) -> tuple[Edge, ...] | None:
        if source == dest:
            return ()
        came: dict[str, Edge] = {}
        seen = {source}
        queue = deque([source])
        while queue:
            here = queue.popleft()
            for e in self.edges:
                if e.source != here or e.dest in seen:
                    continue
                if e.guard is not None and e.guard in blocked:
                    continue
                came[e.dest] = e
                if e.dest == dest:
                    out: list[Edge] = []
                    node = dest
                    while node != source:
                        step = came[node]
                        out.append(step)
                        node = step.source
                    return tuple(reversed(out))
                seen.add(e.dest)
                queue.append(e.dest)
        return None
