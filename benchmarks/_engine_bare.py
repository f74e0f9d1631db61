"""The bare side of ``bench_engine``: the run table as a plain ``transitions`` machine (same
states and ``model_attribute``, list-appending ``on_enter`` callbacks, the guards as plain
conditions), batches of models in each kind's source state, and the timed passes."""

from __future__ import annotations

import time
from typing import Any

from transitions import Machine
from transitions.core import EventData

from lifecycle import ASSISTANTS_RUN, ToolCall
from lifecycle._guards import GuardContext, cancel_was_requested, outputs_cover_required_calls

__all__ = [
    "CALLS",
    "NS",
    "SUBMITTED",
    "TERMINAL",
    "BareModel",
    "bare_batch",
    "bare_machine",
    "bare_pass",
]

NS = time.perf_counter_ns
CALLS = (ToolCall("call_1", "calculate_order_total", "{}"),)
SUBMITTED = frozenset({"call_1"})
#: the terminal edges out of in_progress, as (status, trigger); runs cycle through them
TERMINAL = (
    ("completed", "complete"),
    ("failed", "fail"),
    ("incomplete", "end_incomplete"),
    ("expired", "expire"),
)


class BareModel:
    """The bare side's model: its status, a command list and the guard context."""

    __slots__ = ("_status", "commands", "ctx")

    def __init__(self, status: str = "queued", ctx: GuardContext | None = None) -> None:
        self._status = status
        self.commands: list[str] = []
        self.ctx = ctx if ctx is not None else GuardContext()


def _bare_record(ev: EventData) -> None:
    model: BareModel = ev.model  # type: ignore[assignment]  # no cast: the hot path is timed
    model.commands.append(model._status)


def _bare_submit_guard(ev: EventData) -> bool:
    model: BareModel = ev.model  # type: ignore[assignment]  # no cast: the hot path is timed
    return outputs_cover_required_calls(model.ctx, ev.kwargs) is None


def _bare_cancel_guard(ev: EventData) -> bool:
    model: BareModel = ev.model  # type: ignore[assignment]  # no cast: the hot path is timed
    return cancel_was_requested(model.ctx, ev.kwargs) is None


_BARE_GUARDS = {
    "outputs_cover_required_calls": _bare_submit_guard,
    "cancel_was_requested": _bare_cancel_guard,
}


def bare_machine() -> Machine:
    """The same table as a bare ``transitions`` machine: same states and ``model_attribute``,
    list-appending ``on_enter`` callbacks, the guards as plain conditions."""
    spec = ASSISTANTS_RUN
    states: list[dict[str, Any]] = []
    for s in spec.states:
        state: dict[str, Any] = {"name": s.value}
        if s in spec.awaiting_client or s in spec.terminal:
            state["on_enter"] = [_bare_record]
        if s in spec.terminal:
            state["final"] = True
        states.append(state)
    transitions: list[dict[str, Any]] = []
    for e in spec.edges:
        t: dict[str, Any] = {"trigger": e.trigger, "source": e.source, "dest": e.dest}
        if e.guard is not None:
            t["conditions"] = [_BARE_GUARDS[e.guard]]
        transitions.append(t)
    return Machine(
        model=None,
        states=states,
        transitions=transitions,
        initial="queued",
        auto_transitions=False,
        send_event=True,
        model_attribute="_status",
    )


# -- the bare side -------------------------------------------------------------------------------


def bare_batch(kind: str, runs: int) -> list[BareModel]:
    if kind in ("awaiting", "terminal"):
        return [BareModel("in_progress") for _ in range(runs)]
    if kind == "submit":
        return [
            BareModel(
                "requires_action", GuardContext(tool_calls=CALLS, submitted_call_ids=SUBMITTED)
            )
            for _ in range(runs)
        ]
    if kind == "mix":
        return [
            BareModel("queued", GuardContext(tool_calls=CALLS, submitted_call_ids=SUBMITTED))
            for _ in range(runs)
        ]
    return [BareModel("queued") for _ in range(runs)]


def bare_pass(kind: str, batch: list[BareModel], machine: Machine) -> int:
    events = machine.events
    start, require, complete = events["start"], events["require_action"], events["complete"]
    submit = events["submit_tool_outputs"]
    if kind == "plain":
        t0 = NS()
        for m in batch:
            start.trigger(m)
        return NS() - t0
    if kind == "awaiting":
        t0 = NS()
        for m in batch:
            require.trigger(m)
        return NS() - t0
    if kind == "submit":
        t0 = NS()
        for m in batch:
            submit.trigger(m)
        return NS() - t0
    if kind == "terminal":
        triggers = [events[TERMINAL[i % len(TERMINAL)][1]] for i in range(len(batch))]
        t0 = NS()
        for m, event in zip(batch, triggers, strict=True):
            event.trigger(m)
        return NS() - t0
    if kind == "inferred":
        t0 = NS()
        for m in batch:
            start.trigger(m)
            complete.trigger(m)
        return NS() - t0
    t0 = NS()
    for m in batch:
        start.trigger(m)
        require.trigger(m)
        submit.trigger(m)
        start.trigger(m)
        complete.trigger(m)
    return NS() - t0
