"""The engine: :class:`RunLifecycle`, one run's lifecycle over the shared machine of its table.

Theory of operation
-------------------
A :class:`RunLifecycle` holds one run's status, journal, anomalies, guard context and outbox of
commands; the ``transitions`` machine that moves it is built once per lifecycle spec and shared
by every run (``_machine_build.py``). The engine appends a :class:`JournalEntry` for each edge as
soon as the machine has applied it; the machine's callbacks only emit commands
(:class:`DispatchTools`, :class:`Finished`), which wait in the outbox until the driver takes them
with :meth:`RunLifecycle.take_commands`. No I/O and no tool runs inside the engine. User hooks
(:class:`Hooks`, ``_machine_hooks.py``) are called after the machine step has completed, never
from inside it.

``trigger()`` is strict (one direct edge whose guard passes). ``observe()`` reconciles a status
seen on the server: the server is authoritative, a poll is a snapshot, so a status reachable
forward is applied along the table's shortest path (intermediate steps journaled as inferred),
and anything else is recorded as an :class:`Anomaly` without moving the state.

``observe()`` has two paths that give the same journal, commands and anomalies (the property
tests check the engine against the table). The hot path looks up a route precomputed for the
``(state, observed status)`` pair when the spec was compiled (``_machine_routes.py``) and fires
it here (:meth:`RunLifecycle._follow`); it is taken only by a run without hooks, and only where
the route cannot depend on the guards (or its one guarded edge decides by itself). Everything
else takes the general path (``_machine_reconcile.py``), which plans from the guards' current
answers. Tool-call rounds (entering and leaving ``requires_action``, stale reads) are kept in
``_machine_rounds.py``.

Where things live:

* ``_machine.py``: :class:`RunLifecycle`, its public API and the hot path of ``observe()``;
* ``_machine_build.py``: the shared ``transitions`` machine per spec and its callbacks;
* ``_machine_routes.py``: planning which edges explain an observation, and the precomputed routes;
* ``_machine_reconcile.py``: the general path of ``observe()`` and firing one edge;
* ``_machine_rounds.py``: the tool-call round's bookkeeping;
* ``_machine_hooks.py``: :class:`Hooks` and calling them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lifecycle._guards import GUARDS, GuardContext
from lifecycle._machine_build import build_machine, compile_spec
from lifecycle._machine_hooks import AnomalyHook as AnomalyHook
from lifecycle._machine_hooks import Hooks, after_step, call_hook, marks
from lifecycle._machine_hooks import ToolCallsHook as ToolCallsHook
from lifecycle._machine_hooks import TransitionHook as TransitionHook
from lifecycle._machine_reconcile import fire, reconcile
from lifecycle._machine_rounds import close_round, open_round
from lifecycle._machine_routes import Plan as Plan
from lifecycle._records import (
    Anomaly,
    AnomalyKind,
    Command,
    JournalEntry,
    ToolCall,
    Via,
)
from lifecycle._spec import LifecycleSpec
from lifecycle._table import ASSISTANTS_RUN, CANCEL_GUARD, SUBMIT_GUARD
from lifecycle.errors import GuardRejected, IllegalTransition

if TYPE_CHECKING:
    from lifecycle._machine_routes import Route
    from lifecycle._snapshot import LifecycleSnapshot

__all__ = ["Hooks", "RunLifecycle", "build_machine"]

Clock = Callable[[], float]
_new_tuple = tuple.__new__


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
        self._compiled = compile_spec(spec)
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

    def record_foreign(self, object_id: str, *, via: str, at: float | None = None) -> None:
        """Record an answer about another object than the one this lifecycle follows (an
        :attr:`AnomalyKind.FOREIGN_OBJECT` anomaly); the state does not change."""
        detail = "an answer about another object; not applied"
        self._anomaly(AnomalyKind.FOREIGN_OBJECT, object_id, via, at, detail)

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
        step_marks = marks(self) if hooks is not None else None
        fire(self, edge, via=str(via), at=self._now(at), inferred=False, external=False)
        if step_marks is not None:
            after_step(self, *step_marks)
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
        return reconcile(self, raw, via_s, when, tool_calls, strict, assume_client)

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
        route: Route,
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
        if route.opens_round and not open_round(self, raw, tool_calls, via, when):
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
                close_round(self)
        return journal[mark:]

    def _anomaly(
        self, kind: AnomalyKind, raw: str, via: str, when: float | None, detail: str
    ) -> None:
        """Record an anomaly (the one place anomalies are recorded) and call the anomaly hooks."""
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
                call_hook(self, fn, record)
