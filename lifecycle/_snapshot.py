"""Snapshots: pydantic models of a lifecycle that round-trip through JSON exactly.

A snapshot holds the lifecycle's name, state, journal, anomalies and guard context; never a client,
a key or a hook. ``RunLifecycle.restore(snapshot)`` rebuilds an equivalent lifecycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from lifecycle._guards import GuardContext
from lifecycle._records import Anomaly, JournalEntry, ToolCall
from lifecycle._table import LIFECYCLES
from lifecycle.errors import LifecycleError

if TYPE_CHECKING:
    from lifecycle._machine import Clock, Hooks, RunLifecycle

__all__ = [
    "AnomalyModel",
    "GuardContextModel",
    "JournalEntryModel",
    "LifecycleSnapshot",
    "ToolCallModel",
]

SNAPSHOT_VERSION = 1


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JournalEntryModel(_Frozen):
    """A journal entry (see :class:`lifecycle.JournalEntry`)."""

    source: str
    dest: str
    trigger: str
    via: str
    at: float | None
    inferred: bool = False
    external: bool = False
    kind: str = "documented"


class AnomalyModel(_Frozen):
    """An anomaly (see :class:`lifecycle.Anomaly`)."""

    kind: str
    observed: str
    state: str
    at: float | None
    via: str
    detail: str = ""


class ToolCallModel(_Frozen):
    """A tool call of the current round."""

    id: str
    name: str
    arguments: str
    kind: str = "function"
    server_label: str | None = None


class GuardContextModel(_Frozen):
    """The guard context: the current tool-call round and our own requests."""

    tool_calls: tuple[ToolCallModel, ...] = ()
    submitted_call_ids: tuple[str, ...] = ()
    cancel_requested: bool = False
    answered_call_ids: tuple[str, ...] = ()


class LifecycleSnapshot(_Frozen):
    """Everything needed to rebuild a :class:`lifecycle.RunLifecycle`."""

    version: int = SNAPSHOT_VERSION
    lifecycle: str
    state: str
    journal: tuple[JournalEntryModel, ...] = ()
    anomalies: tuple[AnomalyModel, ...] = ()
    context: GuardContextModel = GuardContextModel()


def to_snapshot(run: RunLifecycle) -> LifecycleSnapshot:
    ctx = run._ctx or GuardContext()
    return LifecycleSnapshot(
        lifecycle=run.spec.name,
        state=run._status,
        journal=tuple(
            JournalEntryModel(
                source=e.source,
                dest=e.dest,
                trigger=e.trigger,
                via=e.via,
                at=e.at,
                inferred=e.inferred,
                external=e.external,
                kind=e.kind,
            )
            for e in run._journal
        ),
        anomalies=tuple(
            AnomalyModel(
                kind=a.kind,
                observed=a.observed,
                state=a.state,
                at=a.at,
                via=a.via,
                detail=a.detail,
            )
            for a in run._anomalies or ()
        ),
        context=GuardContextModel(
            tool_calls=tuple(
                ToolCallModel(
                    id=c.id,
                    name=c.name,
                    arguments=c.arguments,
                    kind=c.kind,
                    server_label=c.server_label,
                )
                for c in ctx.tool_calls
            ),
            submitted_call_ids=tuple(sorted(ctx.submitted_call_ids)),
            cancel_requested=ctx.cancel_requested,
            answered_call_ids=tuple(sorted(ctx.answered_call_ids)),
        ),
    )


def from_snapshot(
    cls: type[RunLifecycle],
    snapshot: LifecycleSnapshot | dict[str, Any] | str | bytes,
    *,
    hooks: Hooks | None,
    clock: Clock | None,
    strict: bool,
) -> RunLifecycle:
    if isinstance(snapshot, str | bytes):
        snap = LifecycleSnapshot.model_validate_json(snapshot)
    elif isinstance(snapshot, dict):
        snap = LifecycleSnapshot.model_validate(snapshot)
    else:
        snap = snapshot
    if snap.version != SNAPSHOT_VERSION:
        raise LifecycleError(f"unsupported snapshot version {snap.version}")
    spec = LIFECYCLES.get(snap.lifecycle)
    if spec is None:
        raise LifecycleError(f"unknown lifecycle {snap.lifecycle!r} in snapshot")
    if snap.state not in spec.state_values:
        raise LifecycleError(f"snapshot state {snap.state!r} is not a {spec.name} status")
    run = cls(spec, hooks=hooks, clock=clock, strict=strict)
    run._status = snap.state
    run._journal = [JournalEntry(**e.model_dump()) for e in snap.journal]
    run._anomalies = [Anomaly(**a.model_dump()) for a in snap.anomalies] or None
    c = snap.context
    if c.tool_calls or c.submitted_call_ids or c.cancel_requested or c.answered_call_ids:
        run._ctx = GuardContext(
            tool_calls=tuple(
                ToolCall(t.id, t.name, t.arguments, t.kind, t.server_label) for t in c.tool_calls
            ),
            submitted_call_ids=frozenset(c.submitted_call_ids),
            cancel_requested=c.cancel_requested,
            answered_call_ids=frozenset(c.answered_call_ids),
        )
    return run
