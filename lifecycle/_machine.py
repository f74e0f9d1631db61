"""The engine: a ``transitions`` machine built from a table, and the per-run :class:`RunLifecycle`.

Theory of operation
-------------------
One ``transitions.Machine(model=None, auto_transitions=False)`` exists per lifecycle spec, built
lazily from the spec's edges and shared by every run. Runs are never attached with ``add_model``
(its cost grows with the number of attached models); instead each trigger is fired with
``machine.events[name].trigger(run, **kwargs)`` on the :class:`RunLifecycle` object itself, which
holds its status in the ``_status`` slot. Attaching a run is therefore O(1) and a dropped run is
freed by reference counting.

Machine callbacks only *record*: entering an awaiting-client status (``requires_action``) emits a
:class:`DispatchTools` command; entering a terminal status emits :class:`Finished`. The engine
appends a :class:`JournalEntry` for each edge as soon as the machine has applied it (doing it
here rather than in an ``after_state_change`` callback halves the engine's overhead, see
``benchmarks/bench_engine.py``). Commands wait in the run's outbox until the
driver takes them with :meth:`RunLifecycle.take_commands`. No I/O and no tool runs inside a
callback, so nothing the machine does can cancel or re-run a tool. User hooks (:class:`Hooks`)
are called after the machine step has completed, never from inside it.

``trigger()`` is strict (one direct edge whose guard passes). ``observe()`` reconciles a status
seen on the server: the server is authoritative, a poll is a snapshot, so a status reachable
forward is applied along the table's shortest path (intermediate steps journaled as inferred),
and anything else is recorded as an :class:`Anomaly` without moving the state.

Routes are planned once per spec, not per observation. When the machine is built, every
``(state, observed status)`` pair whose plan cannot depend on the guards (every combination of
passing and failing guards gives the same path; such a path has no guarded edge) gets a
precomputed route: the ``transitions`` events to fire, the journal fields, and whether the route
opens or closes a tool-call round. A direct guarded edge (our submit) gets a one-step route too:
``transitions`` evaluates its guard as the condition, and if the condition refuses, nothing has
changed and the observation is planned from scratch. Replays (``assume_client=True``) have their
own routes. Everything else (hooks, the same status again with tool calls, unknown or stale
statuses, plans that depend on the guards) takes the general path, which computes the plan from
the guards' current answers; both paths give the same journal, commands and anomalies (the
property tests check the engine against the table).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from transitions import Machine
from transitions.core import Event

from lifecycle._guards import GUARDS, GuardContext
from lifecycle._records import (
    Anomaly,
    AnomalyKind,
    Command,
    DispatchTools,
    Finished,
    JournalEntry,
    ToolCall,
    Via,
)
from lifecycle._spec import Edge, EdgeKind, LifecycleSpec
from lifecycle._table import ASSISTANTS_RUN, CANCEL_GUARD, SUBMIT_GUARD
from lifecycle.errors import GuardRejected, IllegalTransition

if TYPE_CHECKING:
    from lifecycle._snapshot import LifecycleSnapshot

__all__ = ["Hooks", "RunLifecycle", "build_machine"]

Clock = Callable[[], float]
_NO_BLOCK: frozenset[str] = frozenset()  # no guard blocked
_NO_IDS: frozenset[str] = frozenset()
_new_tuple = tuple.__new__


# -- the shared machine per spec ---------------------------------------------------------------


class _RunEvent(Protocol):
    """What the machine's callbacks read of ``transitions``' ``EventData``: the machine only ever
    fires on a :class:`RunLifecycle` (typed this way, a callback needs no ``cast`` per call)."""

    model: RunLifecycle
    kwargs: dict[str, Any]


def _on_enter_awaiting(ev: _RunEvent) -> None:
    run = ev.model
    ctx = run._ctx
    command = DispatchTools(run._status, ctx.tool_calls if ctx is not None else ())
    outbox = run._outbox
    if outbox is None:
        run._outbox = [command]
    else:
        outbox.append(command)


def _finisher(status: str) -> Callable[[_RunEvent], None]:
    command = Finished(status)  # immutable, so one instance serves every run

    def on_enter_terminal(ev: _RunEvent) -> None:
        run = ev.model
        outbox = run._outbox
        if outbox is None:
            run._outbox = [command]
        else:
            outbox.append(command)

    return on_enter_terminal


def _condition(guard_name: str) -> Callable[[_RunEvent], bool]:
    guard = GUARDS[guard_name]

    def check(ev: _RunEvent) -> bool:
        run = ev.model
        ctx = run._ctx
        return guard(ctx if ctx is not None else run._context(), ev.kwargs) is None

    check.__name__ = guard_name
    return check


class _Step(NamedTuple):
    """One edge of a precomputed route, with everything firing and journaling it needs."""

    event: Event
    source: str
    dest: str
    trigger: str
    kind: str
    inferred: bool
    guarded: bool
    closes_round: bool  # it leaves an awaiting-client status: the tool-call round ends


class _Route(NamedTuple):
    """The edges that explain one observed status from one state."""

    steps: tuple[_Step, ...]
    opens_round: bool  # it ends in an awaiting-client status: a tool-call round begins


@dataclass(frozen=True, slots=True)
class _Compiled:
    """Everything built once per spec: the machine, its events and the observation routes."""

    spec: LifecycleSpec[Any]
    machine: Machine
    events: dict[str, Event]
    routes: dict[tuple[str, str], _Route]  # live observations
    replay_routes: dict[tuple[str, str], _Route]  # assume_client=True


_MACHINES: dict[int, _Compiled] = {}

Plan = tuple[tuple[Edge, ...], frozenset[str]]


#: above this many guards, plans are not analysed for guard independence (2**n combinations)
_MAX_ANALYSED_GUARDS = 6


def _choose(
    spec: LifecycleSpec[Any], source: str, target: str, failing: frozenset[str]
) -> Plan | None:
    """The edges that explain ``target`` seen in ``source`` when the ``failing`` guards fail,
    and which guards are flagged (see :meth:`RunLifecycle._plan`)."""
    direct = spec.edge_between(source, target)
    if direct is not None and (direct.guard is None or direct.guard not in failing):
        return (direct,), _NO_BLOCK
    path = spec.path(source, target, blocked=failing)
    if path is not None:
        return path, _NO_BLOCK
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


def _route(spec: LifecycleSpec[Any], events: dict[str, Event], path: tuple[Edge, ...]) -> _Route:
    awaiting = spec.awaiting_client_values
    last = len(path) - 1
    steps = tuple(
        _Step(
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
    return _Route(steps, path[-1].dest in awaiting)


def _compile_routes(
    spec: LifecycleSpec[Any], events: dict[str, Event]
) -> tuple[dict[tuple[str, str], _Route], dict[tuple[str, str], _Route]]:
    """Precompute the routes of every ``(state, observed status)`` pair that has one."""
    names = sorted(spec.guard_names)
    combos = (
        [frozenset(c) for r in range(len(names) + 1) for c in combinations(names, r)]
        if len(names) <= _MAX_ANALYSED_GUARDS
        else []
    )
    live: dict[tuple[str, str], _Route] = {}
    replay: dict[tuple[str, str], _Route] = {}
    for source in sorted(spec.state_values - spec.terminal_values):
        for target in sorted(spec.state_values - {source}):
            direct = spec.edge_between(source, target)
            plans = {_choose(spec, source, target, failing) for failing in combos}
            plan = plans.pop() if len(plans) == 1 else None
            if direct is not None and direct.guard is None:
                live[source, target] = _route(spec, events, (direct,))
            elif plan is not None and all(e.guard is None for e in plan[0]):
                # the same path whatever the guards say (such a path has no guarded edge; the
                # check keeps a route from ever stopping halfway on a refused condition)
                live[source, target] = _route(spec, events, plan[0])
            elif direct is not None and target not in spec.awaiting_client_values:
                live[source, target] = _route(spec, events, (direct,))  # its guard decides
            path = (direct,) if direct is not None else spec.path(source, target)
            if path:
                replay[source, target] = _route(spec, events, path)
    return live, replay


def _compile(spec: LifecycleSpec[Any]) -> _Compiled:
    cached = _MACHINES.get(id(spec))
    if cached is not None and cached.spec is spec:
        return cached
    states: list[dict[str, Any]] = []
    for s in spec.states:
        state: dict[str, Any] = {"name": s.value}
        if s in spec.awaiting_client:
            state["on_enter"] = [_on_enter_awaiting]
        if s in spec.terminal:
            state["on_enter"] = [_finisher(s.value)]
            state["final"] = True
        states.append(state)
    transitions: list[dict[str, Any]] = []
    for edge in spec.edges:
        t: dict[str, Any] = {"trigger": edge.trigger, "source": edge.source, "dest": edge.dest}
        if edge.guard is not None:
            t["conditions"] = [_condition(edge.guard)]
        transitions.append(t)
    machine = Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial=spec.initial.value,
        auto_transitions=False,
        send_event=True,
        model_attribute="_status",
        name=spec.name,
    )
    events = dict(machine.events)
    live, replay = _compile_routes(spec, events)
    compiled = _MACHINES[id(spec)] = _Compiled(spec, machine, events, live, replay)
    return compiled


def build_machine(spec: LifecycleSpec[Any]) -> tuple[Machine, dict[str, Event]]:
    """Return the shared ``transitions`` machine for ``spec`` and its events by trigger name.

    The machine is built once per spec from the table: states (awaiting-client states get the
    dispatch callback, terminal states the finish callback), one transition per edge with its
    guard as a condition, ``auto_transitions=False`` and invalid triggers raising.
    """
    compiled = _compile(spec)
    return compiled.machine, compiled.events


# -- hooks -------------------------------------------------------------------------------------

TransitionHook = Callable[["RunLifecycle", JournalEntry], None]
ToolCallsHook = Callable[["RunLifecycle", tuple[ToolCall, ...]], None]
AnomalyHook = Callable[["RunLifecycle", Anomaly], None]


class Hooks:
    """Typed user hooks, called after a machine step completes (never inside a callback).

    A hook that raises does not stop the engine: the exception is recorded as a
    ``hook_failed`` anomaly (type name only, no message, so no secret leaks through it).

    Example::

        hooks = Hooks()

        @hooks.on_requires_action
        def queue_tools(run, calls): ...

        @hooks.on_enter("completed")
        def done(run, entry): ...
    """

    __slots__ = ("_anomaly", "_enter", "_requires_action", "_transition")

    def __init__(self) -> None:
        self._transition: list[TransitionHook] = []
        self._enter: dict[str, list[TransitionHook]] = {}
        self._requires_action: list[ToolCallsHook] = []
        self._anomaly: list[AnomalyHook] = []

    def on_transition(self, fn: TransitionHook) -> TransitionHook:
        """Call ``fn(run, entry)`` after every applied transition."""
        self._transition.append(fn)
        return fn

    def on_enter(self, state: str) -> Callable[[TransitionHook], TransitionHook]:
        """Call ``fn(run, entry)`` after every transition into ``state``."""

        def register(fn: TransitionHook) -> TransitionHook:
            self._enter.setdefault(str(state), []).append(fn)
            return fn

        return register

    def on_requires_action(self, fn: ToolCallsHook) -> ToolCallsHook:
        """Call ``fn(run, tool_calls)`` when the run starts waiting for tool outputs."""
        self._requires_action.append(fn)
        return fn

    def on_anomaly(self, fn: AnomalyHook) -> AnomalyHook:
        """Call ``fn(run, anomaly)`` for every recorded anomaly."""
        self._anomaly.append(fn)
        return fn


# -- the per-run lifecycle ---------------------------------------------------------------------


class RunLifecycle:
    """The lifecycle of one run: its state, journal, anomalies and guard context.

    Args:
        spec: the lifecycle table (default: Assistants runs).
        strict: when ``True``, ``observe()`` raises :class:`IllegalTransition` instead of
            recording an anomaly.
        hooks: user hooks (see :class:`Hooks`).
        clock: a function returning the current time in seconds, used when ``at`` is not given.
            The engine never reads a clock of its own.
    """

    __slots__ = (
        "_anomalies",
        "_awaiting",
        "_clock",
        "_compiled",
        "_ctx",
        "_hooks",
        "_journal",
        "_outbox",
        "_status",
        "_strict",
        "spec",
    )

    _status: str

    def __init__(
        self,
        spec: LifecycleSpec[Any] = ASSISTANTS_RUN,
        *,
        strict: bool = False,
        hooks: Hooks | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.spec = spec
        self._compiled = _compile(spec)
        self._awaiting = spec.awaiting_client_values
        self._status = spec.initial.value
        self._journal: list[JournalEntry] = []
        self._anomalies: list[Anomaly] | None = None
        self._ctx: GuardContext | None = None
        self._outbox: list[Command] | None = None
        self._hooks = hooks
        self._strict = strict
        self._clock = clock

    # -- read-only views -----------------------------------------------------------------------

    @property
    def state(self) -> Any:
        """The current status, as a member of the spec's StrEnum (compares equal to its string)."""
        return self.spec.status_type(self._status)

    @property
    def is_terminal(self) -> bool:
        """Whether the run has reached a terminal status."""
        return self._status in self.spec.terminal_values

    @property
    def awaiting_client(self) -> bool:
        """Whether only the client can move the run on (e.g. it waits for tool outputs)."""
        return self._status in self._awaiting

    @property
    def history(self) -> tuple[JournalEntry, ...]:
        """Every applied transition, oldest first."""
        return tuple(self._journal)

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """Every recorded anomaly, oldest first (a copy: use :attr:`anomaly_count` to count)."""
        return tuple(self._anomalies or ())

    @property
    def anomaly_count(self) -> int:
        """How many anomalies were recorded (without copying them)."""
        return len(self._anomalies) if self._anomalies is not None else 0

    def anomalies_since(self, count: int) -> tuple[Anomaly, ...]:
        """The anomalies recorded after the first ``count``, oldest first.

        ``run.anomalies_since(n)`` with ``n = run.anomaly_count`` read before a step gives the
        step's anomalies, at a cost that does not grow with the run's earlier anomalies.
        """
        anomalies = self._anomalies
        return tuple(anomalies[count:]) if anomalies is not None else ()

    @property
    def pending_tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls of the current requires_action round (empty outside one)."""
        return self._ctx.tool_calls if self._ctx is not None else ()

    @property
    def cancel_requested(self) -> bool:
        """Whether we asked for a cancel."""
        return self._ctx is not None and self._ctx.cancel_requested

    def __repr__(self) -> str:
        return (
            f"<RunLifecycle {self.spec.name} state={self._status!r} "
            f"transitions={len(self._journal)} anomalies={len(self._anomalies or ())}>"
        )

    # -- client intents (no transition) --------------------------------------------------------

    def request_cancel(self) -> None:
        """Record that we asked for a cancel, so the cancel edges' guard passes."""
        self._context().cancel_requested = True

    def record_submission(self, tool_call_ids: Iterable[str]) -> None:
        """Record that our tool outputs for these ids were accepted by the server."""
        self._context().submitted_call_ids = frozenset(tool_call_ids)

    def take_commands(self) -> list[Command]:
        """Return and clear the commands emitted by the machine since the last call."""
        out = self._outbox or []
        self._outbox = None
        return out

    # -- transitions ---------------------------------------------------------------------------

    def trigger(
        self, name: str, *, via: str = Via.CLIENT, at: float | None = None, **context: Any
    ) -> JournalEntry:
        """Apply trigger ``name`` from the current state, strictly.

        Args:
            name: a trigger of the table.
            via: how the move is known (default ``client``).
            at: time in seconds; defaults to the clock, if any.
            **context: extra guard context, e.g. ``tool_call_ids=[...]`` for the submit edge.

        Returns:
            The journal entry of the applied transition.

        Raises:
            IllegalTransition: no edge ``(state, name)``; the state and journal are unchanged.
            GuardRejected: the edge's guard rejected the move; nothing changed.
        """
        edge = self.spec.edge(self._status, name)
        if edge is None:
            raise IllegalTransition(self._status, trigger=name, reason="no such edge")
        if edge.guard == CANCEL_GUARD:
            self.request_cancel()  # a client cancel trigger *is* our request
        if edge.guard is not None:
            reason = GUARDS[edge.guard](self._context(), context)
            if reason is not None:
                raise GuardRejected(self._status, trigger=name, guard=edge.guard, reason=reason)
        if edge.guard == SUBMIT_GUARD:
            ids = context.get("tool_call_ids", context.get("outputs"))
            if ids is not None:
                self.record_submission(ids)
        hooks = self._hooks
        marks = self._marks() if hooks is not None else None
        self._fire(edge, via=str(via), at=self._now(at), inferred=False, external=False)
        if marks is not None:
            self._after_step(*marks)
        return self._journal[-1]

    def observe(
        self,
        status: str,
        *,
        via: str = Via.POLL,
        at: float | None = None,
        tool_calls: Sequence[ToolCall] | None = None,
        strict: bool | None = None,
        assume_client: bool = False,
    ) -> list[JournalEntry]:
        """Reconcile a status seen on the server.

        * the same status again changes nothing and journals nothing;
        * a status reachable forward is applied along the shortest table path, the intermediate
          steps journaled as inferred;
        * anything else (unknown string, regression, change after a terminal status) is recorded
          as an anomaly and the state does not move; with ``strict`` it raises instead.

        Args:
            status: the raw status string from the server.
            via: ``poll``, ``stream`` or ``client``.
            at: time in seconds; defaults to the clock, if any.
            tool_calls: for a requires_action status, the calls it asks for.
            strict: override the lifecycle's ``strict`` setting for this call.
            assume_client: treat client-driven edges as requested by the client (for replaying a
                recorded trace, where our own submits and cancels are implied, not recorded).

        Returns:
            The transitions applied (empty when nothing changed).

        Raises:
            IllegalTransition: only in strict mode, for an observation that would be an anomaly.
        """
        raw = status if type(status) is str else str(status)
        via_s = via if type(via) is str else str(via)
        when = at if at is not None or self._clock is None else self._clock()
        if self._hooks is None:
            source = self._status
            if raw == source and (tool_calls is None or raw not in self._awaiting):
                return []
            compiled = self._compiled
            routes = compiled.replay_routes if assume_client else compiled.routes
            route = routes.get((source, raw))
            if route is not None:
                applied = self._follow(route, raw, via_s, when, tool_calls, assume_client)
                if applied is not None:
                    return applied
        return self._reconcile(raw, via_s, when, tool_calls, strict, assume_client)

    # -- snapshots -----------------------------------------------------------------------------

    def snapshot(self) -> LifecycleSnapshot:
        """Return a pydantic snapshot (state, journal, anomalies, guard context)."""
        from lifecycle._snapshot import to_snapshot

        return to_snapshot(self)

    @classmethod
    def restore(
        cls,
        snapshot: LifecycleSnapshot | dict[str, Any] | str | bytes,
        *,
        hooks: Hooks | None = None,
        clock: Clock | None = None,
        strict: bool = False,
    ) -> RunLifecycle:
        """Rebuild a lifecycle from :meth:`snapshot` output (a model, a dict or JSON)."""
        from lifecycle._snapshot import from_snapshot

        return from_snapshot(cls, snapshot, hooks=hooks, clock=clock, strict=strict)

    # -- internals -----------------------------------------------------------------------------

    def _now(self, at: float | None) -> float | None:
        if at is not None:
            return at
        return self._clock() if self._clock is not None else None

    def _context(self) -> GuardContext:
        ctx = self._ctx
        if ctx is None:
            ctx = self._ctx = GuardContext()
        return ctx

    def _emit(self, command: Command) -> None:
        if self._outbox is None:
            self._outbox = [command]
        else:
            self._outbox.append(command)

    def _follow(
        self,
        route: _Route,
        raw: str,
        via: str,
        when: float | None,
        tool_calls: Sequence[ToolCall] | None,
        assume_client: bool,
    ) -> list[JournalEntry] | None:
        """Fire a precomputed route; ``None`` when it does not apply after all (nothing changed).

        It does not apply when the round it would open is stale, or when the guard of a one-step
        guarded route refuses (then the general path plans the observation from the guards).
        """
        if route.opens_round and not self._open_round(raw, tool_calls, via, when):
            return None
        journal = self._journal
        mark = len(journal)
        for event, source, dest, trigger, kind, inferred, guarded, closes in route.steps:
            if not guarded:
                ok = event.trigger(self)
            elif assume_client:
                ok = event.trigger(self, assume_client=True)
            else:
                ok = event.trigger(self)
                if not ok:
                    return None  # a live route with a guarded edge has only that edge
            if not ok:  # pragma: no cover - a replayed guard always passes
                raise IllegalTransition(source, trigger=trigger, reason="guard rejected")
            # tuple.__new__ skips the named tuple's Python-level __new__ (same object)
            journal.append(
                _new_tuple(JournalEntry, (source, dest, trigger, via, when, inferred, False, kind))
            )
            if closes:
                self._close_round()
        return journal[mark:]

    def _reconcile(
        self,
        raw: str,
        via: str,
        when: float | None,
        tool_calls: Sequence[ToolCall] | None,
        strict: bool | None,
        assume_client: bool,
    ) -> list[JournalEntry]:
        """The general path of :meth:`observe` (hooks, anomalies, guard-dependent plans)."""
        spec = self.spec
        hooks = self._hooks
        marks = self._marks() if hooks is not None else None
        if raw == self._status:
            if raw in self._awaiting and tool_calls is not None:
                self._same_round(tool_calls, via, when)
            if marks is not None:
                self._after_step(*marks)
            return []
        strict_now = self._strict if strict is None else strict
        if raw not in spec.state_values:
            return self._reject(AnomalyKind.UNKNOWN_STATUS, raw, via, when, strict_now, marks)
        if self._status in spec.terminal_values:
            kind = (
                AnomalyKind.TERMINAL_FLIP
                if raw in spec.terminal_values
                else AnomalyKind.AFTER_TERMINAL
            )
            return self._reject(kind, raw, via, when, strict_now, marks)
        plan = self._plan(raw, assume_client)
        if plan is None:
            return self._reject(AnomalyKind.REGRESSION, raw, via, when, strict_now, marks)
        path, flagged = plan
        if raw in self._awaiting and not self._open_round(raw, tool_calls, via, when):
            return self._reject(AnomalyKind.STALE_ROUND, raw, via, when, strict_now, marks)
        mark = len(self._journal)
        last = len(path) - 1
        for i, edge in enumerate(path):
            external = edge.guard is not None and edge.guard in flagged
            if external:
                self._anomaly(
                    AnomalyKind.EXTERNAL_CANCEL,
                    raw,
                    via,
                    when,
                    f"{edge.trigger} seen without our request: applied, flagged external",
                )
            self._fire(
                edge,
                via=via,
                at=when,
                inferred=i < last,
                external=external,
                assume_client=assume_client,
            )
        if marks is not None:
            self._after_step(*marks)
        return self._journal[mark:]

    def _plan(
        self, target: str, assume_client: bool
    ) -> tuple[tuple[Edge, ...], frozenset[str]] | None:
        """Choose the edges that explain an observed ``target``, and which guards are flagged.

        A direct unguarded edge is the common case. Otherwise the shortest path avoiding every edge
        whose guard does not pass; failing that, client edges with a ``FLAG_EXTERNAL`` policy may
        be used (a cancel someone else made) as long as no tolerated server edge follows them (we
        do not infer a foreign cancel *and* a lost race). ``REQUIRE_GUARD`` edges (our submit) are
        never inferred without our submission.
        """
        spec = self.spec
        if assume_client:
            direct = spec.edge_between(self._status, target)
            if direct is not None:
                return (direct,), _NO_BLOCK
            path = spec.path(self._status, target)
            return (path, _NO_BLOCK) if path is not None else None
        ctx = self._context()
        failing = frozenset(n for n in spec.guard_names if GUARDS[n](ctx, {}) is not None)
        return _choose(spec, self._status, target, failing)

    def _fire(
        self,
        edge: Edge,
        *,
        via: str,
        at: float | None,
        inferred: bool,
        external: bool,
        assume_client: bool = False,
    ) -> None:
        source = self._status
        event = self._compiled.events[edge.trigger]
        if edge.guard is None or not (external or assume_client):
            ok = event.trigger(self)  # no guard reads a keyword that is not set: don't build them
        else:
            ok = event.trigger(self, external=external, assume_client=assume_client)
        if not ok:  # pragma: no cover - guards were checked before firing
            raise IllegalTransition(self._status, trigger=edge.trigger, reason="guard rejected")
        self._journal.append(
            JournalEntry(
                source, edge.dest, edge.trigger, via, at, inferred, external, edge.kind.value
            )
        )
        if source in self._awaiting:
            self._close_round()

    def _close_round(self) -> None:
        """Leaving the awaiting-client status closes the tool-call round."""
        ctx = self._ctx
        if ctx is not None:
            if ctx.submitted_call_ids:
                ctx.answered_call_ids = ctx.answered_call_ids | ctx.submitted_call_ids
            ctx.tool_calls = ()
            ctx.submitted_call_ids = _NO_IDS

    def _open_round(
        self, raw: str, tool_calls: Sequence[ToolCall] | None, via: str, when: float | None
    ) -> bool:
        """Set the calls of a round about to be entered; ``False`` for a stale round."""
        calls = tuple(tool_calls) if tool_calls is not None else ()
        ctx = self._ctx
        if ctx is None:
            self._ctx = GuardContext(calls)
        elif self._answered(calls):
            return False
        else:
            ctx.tool_calls = calls
        if tool_calls is not None and not calls:
            self._anomaly(
                AnomalyKind.MISSING_TOOL_CALLS,
                raw,
                via,
                when,
                "requires_action without tool calls: re-read, never submit an empty set",
            )
        return True

    def _answered(self, calls: Sequence[ToolCall]) -> bool:
        """Whether a round asks only for calls we answered in earlier rounds (a stale read)."""
        ctx = self._ctx
        if not calls or ctx is None or not ctx.answered_call_ids:
            return False
        return all(c.id in ctx.answered_call_ids for c in calls)

    def _same_round(self, tool_calls: Sequence[ToolCall], via: str, when: float | None) -> None:
        ctx = self._context()
        calls = tuple(tool_calls)
        known = ctx.required_call_ids
        new = frozenset(c.id for c in calls)
        if not known and new and self._answered(calls):
            self._anomaly(
                AnomalyKind.STALE_ROUND,
                self._status,
                via,
                when,
                "the round's payload names only calls answered earlier: a stale read",
            )
        elif not known and new:
            # requires_action was first seen without its payload: start the round now
            ctx.tool_calls = calls
            self._emit(DispatchTools(state=self._status, tool_calls=calls))
        elif new and new != known:
            self._anomaly(
                AnomalyKind.TOOL_CALLS_CHANGED,
                self._status,
                via,
                when,
                "the same requires_action round reports other tool calls; kept the first",
            )

    def _reject(
        self,
        kind: AnomalyKind,
        raw: str,
        via: str,
        when: float | None,
        strict: bool,
        marks: tuple[int, int] | None,
    ) -> list[JournalEntry]:
        if strict:
            raise IllegalTransition(self._status, target=raw, reason=kind.value)
        detail = {
            AnomalyKind.UNKNOWN_STATUS: "status not in the table; state kept",
            AnomalyKind.REGRESSION: "not reachable forward from the current state; state kept",
            AnomalyKind.AFTER_TERMINAL: "the run already ended; state kept",
            AnomalyKind.TERMINAL_FLIP: "a different terminal status after the first; first kept",
            AnomalyKind.STALE_ROUND: (
                "requires_action asking only for calls already answered: a stale read; "
                "state kept, no new round"
            ),
        }[kind]
        self._anomaly(kind, raw, via, when, detail)
        if marks is not None:
            self._after_step(*marks)
        return []

    def _anomaly(
        self, kind: AnomalyKind, raw: str, via: str, when: float | None, detail: str
    ) -> None:
        record = Anomaly(
            kind=kind.value,
            observed=raw[:200],
            state=self._status,
            at=when,
            via=str(via),
            detail=detail,
        )
        if self._anomalies is None:
            self._anomalies = [record]
        else:
            self._anomalies.append(record)
        if self._hooks is not None and kind is not AnomalyKind.HOOK_FAILED:
            for fn in self._hooks._anomaly:
                self._call_hook(fn, record)

    def _marks(self) -> tuple[int, int]:
        """Where the journal and the outbox stand before a step (for the hooks after it)."""
        return len(self._journal), len(self._outbox) if self._outbox is not None else 0

    def _after_step(self, journal_mark: int, outbox_mark: int) -> None:
        """Call the hooks for what the step added (only when there are hooks)."""
        hooks = self._hooks
        if hooks is None:  # pragma: no cover - callers check
            return
        for entry in self._journal[journal_mark:]:
            for fn in hooks._transition:
                self._call_hook(fn, entry)
            for fn in hooks._enter.get(entry.dest, ()):
                self._call_hook(fn, entry)
        if hooks._requires_action and self._outbox:
            for command in self._outbox[outbox_mark:]:
                if isinstance(command, DispatchTools):
                    for tools_fn in hooks._requires_action:
                        self._call_hook(tools_fn, command.tool_calls)

    def _call_hook(self, fn: Callable[..., None], arg: Any) -> None:
        try:
            fn(self, arg)
        except Exception as exc:  # a user hook must never crash the engine
            name = getattr(fn, "__qualname__", type(fn).__name__)
            self._anomaly(
                AnomalyKind.HOOK_FAILED,
                name,
                Via.CLIENT,
                self._now(None),
                f"hook raised {type(exc).__name__}",
            )
