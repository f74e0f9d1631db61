"""The engine side of status scripts: serve scripted run objects, whatever the rules say.

Scripted runs (:class:`~adapters.simulator.StatusScript`) bypass the scenario player: their
status is whatever the current step says. Every function here takes the run (with
``run.script`` set) and the sim time, and must be called with the engine lock held. A step that
becomes current is *entered*: its status string is appended to ``run.history`` (unknown ones
too), it emits ``thread.run.<status>`` with the served payload, and, for a status of the
documented vocabulary (``_behaviour.RUN_STATUSES``), sets ``run.status`` (so the thread lock
follows the last known status served, or the step's ``actual_status`` for a stale read) and its
``*_at`` stamp the first time.
"""

from __future__ import annotations

from typing import Any

from adapters.simulator import _behaviour as api
from adapters.simulator._records import ApiError, RunRecord, ScriptState, SseEvent
from adapters.simulator._requests import SubmitToolOutputs
from adapters.simulator.scenarios import SubmittedOutput
from adapters.simulator.scripts import ScriptRead, StatusScript

__all__ = ["cancel", "check_outputs", "payload", "pull", "read", "start", "submit", "tick"]

Json = dict[str, Any]
#: reads that move a ``per_read`` script to its next step
_ADVANCING_READS = frozenset({"retrieve"})


def _state(run: RunRecord) -> ScriptState:
    state = run.script
    if state is None:  # pragma: no cover - callers check first
        raise RuntimeError(f"run {run.id} is not scripted")
    return state


def start(run: RunRecord, script: StatusScript, now: float) -> None:
    """Make ``run`` scripted: step 0 is current from ``now`` (it emits ``thread.run.created``)."""
    run.script = ScriptState(script, tuple(script.steps), since=now)
    run.events.append(SseEvent("thread.run.created", payload(run)))
    _enter(run, now)


def payload(run: RunRecord) -> Json:
    """The run object for the current step: the record's fields, the step's status and
    ``required_action``, then the step's payload overrides."""
    step = _state(run).step
    out = run.payload()
    out["status"] = step.status
    out["required_action"] = step.required_action()
    out.update(step.payload)
    return out


def tick(run: RunRecord, now: float) -> None:
    """``by_time``: enter every step whose delay has elapsed by ``now``."""
    state = _state(run)
    if state.script.advance != "by_time":
        return
    while state.index + 1 < len(state.steps):
        due = state.since + state.steps[state.index + 1].delay
        if now < due:
            return
        _next(run, due)


def read(run: RunRecord, now: float, via: str) -> Json:
    """Serve the run in a JSON response (``per_read``: a GET serves the next step first)."""
    state = _state(run)
    tick(run, now)
    moves = state.script.advance == "per_read" and via in _ADVANCING_READS
    if moves and state.index + 1 < len(state.steps):
        _next(run, now)
    out = payload(run)
    state.reads.append(ScriptRead(via, state.branch, state.index, state.step.status, now))
    return out


def pull(run: RunRecord, now: float) -> bool:
    """An SSE stream sent everything: ``per_read`` enters the next step, if there is one.

    Returns:
        Whether a step was entered (so the stream has a new event).
    """
    state = _state(run)
    if state.script.advance != "per_read" or state.index + 1 >= len(state.steps):
        return False
    _next(run, now)
    return True


def submit(run: RunRecord, body: SubmitToolOutputs, now: float) -> None:
    """Accept the outputs if the current step takes them, then move to the next step.

    Raises:
        ApiError: 400 when the current step does not take outputs, or (``check_outputs``) the
            ids do not match its calls exactly.
    """
    state = _state(run)
    tick(run, now)
    step = state.step
    if not step.takes_outputs:
        raise ApiError(400, api.does_not_accept_outputs(step.server_status))
    calls = {c.id: c for c in step.tool_calls or ()}
    given = [o.tool_call_id for o in body.tool_outputs]
    if state.script.check_outputs:
        check_outputs(run.id, list(calls), given)
    round_: list[SubmittedOutput] = []
    for out in body.tool_outputs:
        call = calls.get(out.tool_call_id)
        name, arguments = (call.name, call.arguments) if call is not None else ("", "")
        round_.append(SubmittedOutput(out.tool_call_id, name, arguments, out.output))
    run.rounds.append(round_)
    if state.index + 1 < len(state.steps):
        _next(run, now)
    else:
        state.since = now


def cancel(run: RunRecord, now: float) -> None:
    """The first cancel switches to ``on_cancel`` (if any); otherwise nothing moves."""
    state = _state(run)
    tick(run, now)
    on_cancel = state.script.on_cancel
    if on_cancel is None or state.branch == "cancel":
        return
    state.steps, state.branch, state.index, state.since = tuple(on_cancel), "cancel", 0, now
    _enter(run, now)
    tick(run, now)


def check_outputs(run_id: str, required: list[str], given: list[str]) -> None:
    """Check submitted ids against the required ones, with the real server's 400s.

    Raises:
        ApiError: 400 for duplicate, unknown or missing ids.
    """
    dupes = sorted({i for i in given if given.count(i) > 1})
    if dupes:
        raise ApiError(
            400, f"Duplicate tool_call_id(s) in tool_outputs: {dupes}.", param="tool_outputs"
        )
    extra = [i for i in given if i not in required]
    if extra:
        raise ApiError(
            400,
            f"Tool call id(s) {extra} not found in run {run_id}'s required action; "
            f"expected {required}.",
            param="tool_outputs",
        )
    missing = [i for i in required if i not in given]
    if missing:
        raise ApiError(
            400,
            f"Expected tool outputs for call_ids {required}, got {given}; missing {missing}.",
            param="tool_outputs",
        )


def _next(run: RunRecord, at: float) -> None:
    state = _state(run)
    state.index += 1
    state.since = at
    _enter(run, at)


def _enter(run: RunRecord, at: float) -> None:
    step = _state(run).step
    raw, actual = step.status, step.server_status
    if actual in api.RUN_STATUSES:
        run.status = actual
        stamp = api.RUN_STAMPS.get(actual)
        if stamp is not None and getattr(run, stamp) is None:
            setattr(run, stamp, int(at))
    run.history.append((raw, at))
    run.events.append(SseEvent(f"thread.run.{raw}", payload(run)))
