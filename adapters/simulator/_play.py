"""The scenario player: plays a run's scenario forward on the clock, moving its status by the
documented rules of ``_behaviour.py``.

Theory of operation
-------------------
Nothing runs in the background. :meth:`Player.advance` reads "now" and plays the run's
:class:`~adapters.simulator.Scenario` forward to it: each step's effects happen at the exact sim
time they were due (``phase_start + seconds``), so a poll that arrives late sees the same history
as one that arrived on time.

Which status a run is in follows from the step being played and from the rules in
``_behaviour.py``, never from the core's table:

* a run starts ``queued`` (created by the engine);
* a step that needs the model (``Work``, ``CallTools``, ``Answer``, ``EndIncomplete``) is played
  ``in_progress``: a ``queued`` run is picked up first (rule 2);
* ``CallTools`` ends in ``requires_action`` with the calls (rule 3); the engine's submit moves the
  run back to ``queued`` (rule 4);
* ``Answer`` completes, ``EndIncomplete`` ends ``incomplete``, ``Fail`` fails the run from
  whatever status it is in (``queued`` or ``in_progress``), ``Hang`` never moves again;
* past ``expires_at`` a run still ``queued``, ``in_progress`` or ``requires_action`` expires
  (rule 6);
* after a cancel request (``cancelling``, rule 5) the scenario's :class:`CancelBehaviour` decides
  when and in which terminal status the run settles.

Every status change goes through :meth:`Player.move`, which records ``(status, time)`` in the
run's history, stamps ``*_at`` fields and emits the ``thread.run.<status>`` stream event. Run
steps and assistant messages open and close alongside (rule 10). Scripted runs never get here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from adapters.simulator import _behaviour as api
from adapters.simulator._records import (
    MessageRecord,
    RunRecord,
    SseEvent,
    StepRecord,
    ThreadRecord,
    ToolCallRecord,
)
from adapters.simulator.scenarios import (
    Answer,
    CallTools,
    EndIncomplete,
    Fail,
    Hang,
    Queue,
    Step,
    Work,
    render_answer,
)

__all__ = ["Player", "step_seconds", "text_chunks", "word_count"]

Json = dict[str, Any]
#: the steps played ``in_progress``: a ``queued`` run is picked up when one starts
_NEEDS_MODEL = (Work, CallTools, Answer, EndIncomplete)


def step_seconds(step: Step) -> float:
    return math.inf if isinstance(step, Hang) else step.seconds


def word_count(text: str) -> int:
    return max(1, len(text.split()))


def text_chunks(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class Player:
    """Plays scenarios forward; owned by the engine and called with its lock held.

    Args:
        new_id: makes a fresh id for a prefix (``step``, ``msg``, ``call``).
        threads: the engine's threads (assistant messages are added to them).
    """

    def __init__(self, new_id: Callable[[str], str], threads: dict[str, ThreadRecord]) -> None:
        self.new_id = new_id
        self.threads = threads

    def advance(self, run: RunRecord, now: float) -> None:
        """Play the run's scenario forward to ``now``."""
        while not run.terminal:
            if run.cancel_at is not None:
                self._advance_cancel(run, now)
                return
            if run.required is not None:  # waiting for the client's outputs
                if now >= run.expires_at:
                    self.end(run, api.EXPIRED, run.expires_at)
                return
            step = run.scenario.steps[run.step_index]
            if not run.entered:
                if run.phase_start >= run.expires_at:
                    self.end(run, api.EXPIRED, run.expires_at)
                    return
                self._enter(run, step, run.phase_start)
                run.entered = True
                continue
            due = run.phase_start + step_seconds(step)
            if due > run.expires_at:
                if now >= run.expires_at:
                    self.end(run, api.EXPIRED, run.expires_at)
                return
            if now < due:
                return
            self._finish(run, step, due)

    def _advance_cancel(self, run: RunRecord, now: float) -> None:
        behaviour = run.scenario.cancel
        if behaviour.confirm_after is None:
            return  # stuck in cancelling for good
        assert run.cancel_at is not None
        due = run.cancel_at + behaviour.confirm_after
        if now < due:
            return
        if behaviour.outcome == api.COMPLETED and run.open_message is None:
            answer = next(
                (s for s in run.scenario.steps[run.step_index :] if isinstance(s, Answer)), None
            )
            if answer is not None:
                self._open_message(run, due)
                assert run.open_message is not None
                run.open_message.text = self._render(run, answer)
        self.end(run, behaviour.outcome, due)

    def _enter(self, run: RunRecord, step: Step, at: float) -> None:
        if isinstance(step, _NEEDS_MODEL) and run.status == api.QUEUED:
            self.move(run, api.IN_PROGRESS, at)  # rule 2: the server picks the run up
        if isinstance(step, Answer) or (isinstance(step, EndIncomplete) and step.text):
            self._open_message(run, at)

    def _finish(self, run: RunRecord, step: Step, at: float) -> None:
        if isinstance(step, (Queue, Work)):
            run.step_index += 1
            run.phase_start = at
            run.entered = False
        elif isinstance(step, CallTools):
            self._require_action(run, step, at)
        elif isinstance(step, Answer):
            assert run.open_message is not None
            run.open_message.text = self._render(run, step)
            self.end(run, api.COMPLETED, at)
        elif isinstance(step, Fail):
            run.last_error = {"code": step.code, "message": step.message}
            self.end(run, api.FAILED, at)
        elif isinstance(step, EndIncomplete):
            if run.open_message is not None:
                run.open_message.text = step.text or ""
            run.incomplete_reason = step.reason
            self.end(run, api.INCOMPLETE, at)

    def _render(self, run: RunRecord, step: Answer) -> str:
        outputs = tuple(o for r in run.rounds for o in r)
        return render_answer(step.text, outputs, len(run.rounds[-1]) if run.rounds else 0)

    def _require_action(self, run: RunRecord, step: CallTools, at: float) -> None:
        calls = [ToolCallRecord(self.new_id("call"), c.name, c.arguments) for c in step.calls]
        rec = self._open_step(run, "tool_calls", at)
        rec.tool_calls = calls
        delta = {
            "step_details": {
                "type": "tool_calls",
                "tool_calls": [
                    {"index": i, **c.payload(with_output=False)} for i, c in enumerate(calls)
                ],
            }
        }
        run.events.append(
            SseEvent(
                "thread.run.step.delta",
                {"id": rec.id, "object": "thread.run.step.delta", "delta": delta},
            )
        )
        run.required = calls
        self.move(run, api.REQUIRES_ACTION, at)  # rule 3

    # -- steps and messages --------------------------------------------------------------------

    def _open_step(self, run: RunRecord, kind: str, at: float) -> StepRecord:
        rec = StepRecord(
            id=self.new_id("step"),
            run_id=run.id,
            thread_id=run.thread_id,
            assistant_id=run.assistant_id,
            type=kind,
            created_at=int(at),
        )
        run.steps.append(rec)
        run.open_step = rec
        run.events.append(SseEvent("thread.run.step.created", rec.payload()))
        run.events.append(SseEvent("thread.run.step.in_progress", rec.payload()))
        return rec

    def close_step(self, run: RunRecord, status: str, at: float) -> None:
        """End the run's open step in ``status`` (rule 10) and emit its event."""
        rec = run.open_step
        assert rec is not None
        rec.status = status
        setattr(rec, api.STEP_STAMPS[status], int(at))
        if status == api.COMPLETED:
            words = sum(word_count(c.arguments) for c in rec.tool_calls) or 1
            rec.usage = {
                "prompt_tokens": 50,
                "completion_tokens": words,
                "total_tokens": 50 + words,
            }
        run.events.append(SseEvent(f"thread.run.step.{status}", rec.payload()))
        run.open_step = None

    def _open_message(self, run: RunRecord, at: float) -> None:
        msg = MessageRecord(
            id=self.new_id("msg"),
            thread_id=run.thread_id,
            role="assistant",
            text="",
            created_at=int(at),
            status="in_progress",
            assistant_id=run.assistant_id,
            run_id=run.id,
        )
        self.threads[run.thread_id].messages.append(msg)
        step = self._open_step(run, "message_creation", at)
        step.message_id = msg.id
        run.open_message = msg
        run.events.append(SseEvent("thread.message.created", msg.payload(text="")))
        run.events.append(SseEvent("thread.message.in_progress", msg.payload(text="")))

    def _close_message(self, run: RunRecord, final: str, at: float) -> None:
        msg = run.open_message
        assert msg is not None
        reason = api.MESSAGE_END_REASON.get(final)
        for i, chunk in enumerate(text_chunks(msg.text) if msg.text else []):
            text: Json = {"value": chunk, "annotations": []} if i == 0 else {"value": chunk}
            delta = {"content": [{"index": 0, "type": "text", "text": text}]}
            run.events.append(
                SseEvent(
                    "thread.message.delta",
                    {"id": msg.id, "object": "thread.message.delta", "delta": delta},
                )
            )
        if reason is None:
            msg.status, msg.completed_at = "completed", int(at)
        else:
            msg.status, msg.incomplete_at, msg.incomplete_reason = "incomplete", int(at), reason
        run.events.append(SseEvent(f"thread.message.{msg.status}", msg.payload()))
        run.open_message = None

    # -- status moves --------------------------------------------------------------------------

    def end(self, run: RunRecord, final: str, at: float) -> None:
        """End the run in the terminal status ``final``: close its message and step, then move."""
        if final not in api.TERMINAL:  # pragma: no cover - callers pass terminal statuses
            raise RuntimeError(f"{final!r} is not a terminal status")
        if run.open_message is not None:
            self._close_message(run, final, at)
        if run.open_step is not None:
            self.close_step(run, api.STEP_END[final], at)
        self.move(run, final, at)

    def move(self, run: RunRecord, status: str, at: float) -> None:
        """Enter ``status``: history, ``*_at`` stamp, ``required_action``, usage, stream event."""
        if run.terminal:  # pragma: no cover - rule 7: every caller checks first
            raise RuntimeError(f"run {run.id} is {run.status}; it cannot move to {status}")
        run.status = status
        run.history.append((status, at))
        stamp = api.RUN_STAMPS.get(status)
        if stamp is not None:
            setattr(run, stamp, int(at))
        if status not in api.ACCEPTS_OUTPUTS:
            run.required = None  # rule 3: required_action only while requires_action
        if run.terminal:
            messages = self.threads[run.thread_id].messages
            prompt = sum(word_count(m.text) for m in messages) + 20
            done = sum(word_count(m.text) for m in messages if m.run_id == run.id)
            completion = done + sum(len(r) for r in run.rounds) * 10
            run.usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        run.events.append(SseEvent(f"thread.run.{status}", run.payload()))
