"""The general path of ``observe()``, and firing one edge.

Theory of operation
-------------------
``RunLifecycle.observe()`` takes a precomputed route (``_machine_routes.py``) when one applies
and the run has no hooks. Everything else comes here (:func:`reconcile`): hooks, the same status
again with tool calls, unknown or stale statuses, observations whose plan depends on the guards'
current answers. It decides, in order:

1. the same status again: nothing moves (a round seen again with its calls may start or be
   flagged, see ``_machine_rounds.py``);
2. a status not in the table, or any change after a terminal status: an anomaly;
3. no plan (:func:`~lifecycle._machine_routes.plan`) explains the status: a regression anomaly;
4. a round that asks only for calls already answered: a stale-round anomaly;
5. otherwise the plan's edges are fired (:func:`fire`), the intermediate ones journaled as
   inferred, a flagged guard's edge journaled as external with an ``external_cancel`` anomaly.

An anomaly never moves the state; with ``strict`` it raises :class:`~lifecycle.IllegalTransition`
instead (:func:`reject`). Both paths give the same journal, commands and anomalies for the same
observation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from lifecycle._machine_hooks import after_step, marks
from lifecycle._machine_rounds import close_round, open_round, same_round
from lifecycle._machine_routes import plan
from lifecycle._records import AnomalyKind, JournalEntry, ToolCall
from lifecycle._spec import Edge
from lifecycle.errors import IllegalTransition

if TYPE_CHECKING:
    from lifecycle._machine import RunLifecycle

__all__ = ["fire", "reconcile", "reject"]

_REJECTED: dict[AnomalyKind, str] = {
    AnomalyKind.UNKNOWN_STATUS: "status not in the table; state kept",
    AnomalyKind.REGRESSION: "not reachable forward from the current state; state kept",
    AnomalyKind.AFTER_TERMINAL: "the run already ended; state kept",
    AnomalyKind.TERMINAL_FLIP: "a different terminal status after the first; first kept",
    AnomalyKind.STALE_ROUND: (
        "requires_action asking only for calls already answered: a stale read; "
        "state kept, no new round"
    ),
}


def reconcile(
    run: RunLifecycle,
    raw: str,
    via: str,
    when: float | None,
    tool_calls: Sequence[ToolCall] | None,
    strict: bool | None,
    assume_client: bool,
) -> list[JournalEntry]:
    """The general path of :meth:`~lifecycle.RunLifecycle.observe` (hooks, anomalies,
    guard-dependent plans)."""
    spec = run.spec
    hooks = run._hooks
    step_marks = marks(run) if hooks is not None else None
    if raw == run._status:
        if raw in run._awaiting and tool_calls is not None:
            same_round(run, tool_calls, via, when)
        if step_marks is not None:
            after_step(run, *step_marks)
        return []
    strict_now = run._strict if strict is None else strict
    if raw not in spec.state_values:
        return reject(run, AnomalyKind.UNKNOWN_STATUS, raw, via, when, strict_now, step_marks)
    if run._status in spec.terminal_values:
        kind = (
            AnomalyKind.TERMINAL_FLIP if raw in spec.terminal_values else AnomalyKind.AFTER_TERMINAL
        )
        return reject(run, kind, raw, via, when, strict_now, step_marks)
    planned = plan(run, raw, assume_client)
    if planned is None:
        return reject(run, AnomalyKind.REGRESSION, raw, via, when, strict_now, step_marks)
    path, flagged = planned
    if raw in run._awaiting and not open_round(run, raw, tool_calls, via, when):
        return reject(run, AnomalyKind.STALE_ROUND, raw, via, when, strict_now, step_marks)
    mark = len(run._journal)
    last = len(path) - 1
    for i, edge in enumerate(path):
        external = edge.guard is not None and edge.guard in flagged
        if external:
            run._anomaly(
                AnomalyKind.EXTERNAL_CANCEL,
                raw,
                via,
                when,
                f"{edge.trigger} seen without our request: applied, flagged external",
            )
        fire(
            run,
            edge,
            via=via,
            at=when,
            inferred=i < last,
            external=external,
            assume_client=assume_client,
        )
    if step_marks is not None:
        after_step(run, *step_marks)
    return run._journal[mark:]


def fire(
    run: RunLifecycle,
    edge: Edge,
    *,
    via: str,
    at: float | None,
    inferred: bool,
    external: bool,
    assume_client: bool = False,
) -> None:
    """Fire one edge on the shared machine and journal it (its guard was checked before)."""
    source = run._status
    event = run._compiled.events[edge.trigger]
    if edge.guard is None or not (external or assume_client):
        ok = event.trigger(run)  # no guard reads a keyword that is not set: don't build them
    else:
        ok = event.trigger(run, external=external, assume_client=assume_client)
    if not ok:  # pragma: no cover - guards were checked before firing
        raise IllegalTransition(run._status, trigger=edge.trigger, reason="guard rejected")
    run._journal.append(
        JournalEntry(source, edge.dest, edge.trigger, via, at, inferred, external, edge.kind.value)
    )
    if source in run._awaiting:
        close_round(run)


def reject(
    run: RunLifecycle,
    kind: AnomalyKind,
    raw: str,
    via: str,
    when: float | None,
    strict: bool,
    step_marks: tuple[int, int] | None,
) -> list[JournalEntry]:
    """Record an observation the table cannot explain (the state is kept), or raise in strict
    mode."""
    if strict:
        raise IllegalTransition(run._status, target=raw, reason=kind.value)
    run._anomaly(kind, raw, via, when, _REJECTED[kind])
    if step_marks is not None:
        after_step(run, *step_marks)
    return []
