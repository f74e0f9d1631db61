"""The shared machine: one ``transitions.Machine`` per lifecycle spec, and its callbacks.

Theory of operation
-------------------
One ``transitions.Machine(model=None, auto_transitions=False)`` exists per lifecycle spec, built
lazily from the spec's edges (:func:`compile_spec`) and shared by every run. Runs are never
attached with ``add_model`` (its cost grows with the number of attached models); instead each
trigger is fired with ``machine.events[name].trigger(run, **kwargs)`` on the
:class:`~lifecycle.RunLifecycle` object itself, which holds its status in the ``_status`` slot
(``model_attribute="_status"``). Attaching a run is therefore O(1) and a dropped run is freed by
reference counting.

The table becomes the machine one to one: a state per status (``final`` for terminal ones), a
transition per edge, the edge's guard as the transition's condition. Nothing else is added, so
the machine accepts exactly the table's edges.

The callbacks only *record*: entering an awaiting-client status (``requires_action``) emits a
:class:`~lifecycle.DispatchTools` command with the round's calls; entering a terminal status
emits :class:`~lifecycle.Finished`. Commands wait in the run's outbox until the driver takes
them. No I/O and no tool runs inside a callback, so nothing the machine does can cancel or
re-run a tool. The journal is written by the engine after each step, not by a callback (doing
it there halves the engine's overhead, see ``benchmarks/bench_engine.py``).

Building the machine also precomputes the observation routes (``_machine_routes.py``); both are
kept together in one :class:`Compiled` per spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from transitions import Machine
from transitions.core import Event

from lifecycle._guards import GUARDS
from lifecycle._machine_routes import Route, compile_routes
from lifecycle._records import DispatchTools, Finished
from lifecycle._spec import LifecycleSpec

if TYPE_CHECKING:
    from lifecycle._machine import RunLifecycle

__all__ = ["Compiled", "build_machine", "compile_spec"]


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


@dataclass(frozen=True, slots=True)
class Compiled:
    """Everything built once per spec: the machine, its events and the observation routes."""

    spec: LifecycleSpec[Any]
    machine: Machine
    events: dict[str, Event]
    routes: dict[tuple[str, str], Route]  # live observations
    replay_routes: dict[tuple[str, str], Route]  # assume_client=True


_MACHINES: dict[int, Compiled] = {}


def compile_spec(spec: LifecycleSpec[Any]) -> Compiled:
    """The shared :class:`Compiled` of ``spec``, built on first use."""
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
    live, replay = compile_routes(spec, events)
    compiled = _MACHINES[id(spec)] = Compiled(spec, machine, events, live, replay)
    return compiled


def build_machine(spec: LifecycleSpec[Any]) -> tuple[Machine, dict[str, Event]]:
    """Return the shared ``transitions`` machine for ``spec`` and its events by trigger name.

    The machine is built once per spec from the table: states (awaiting-client states get the
    dispatch callback, terminal states the finish callback), one transition per edge with its
    guard as a condition, ``auto_transitions=False`` and invalid triggers raising.
    """
    compiled = compile_spec(spec)
    return compiled.machine, compiled.events
