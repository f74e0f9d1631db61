"""The simulator's state and scenario engine: lazy, clock-driven, table-faithful.

Theory of operation
-------------------
Nothing runs in the background. Every operation first calls :meth:`Engine.advance`, which reads the
clock and plays each run's scenario forward to "now": a step's effects happen at the exact sim time
they were due (``phase_start + seconds``), so a poll that arrives late sees the same history as one
that arrived on time, and a :class:`~adapters.simulator.ManualClock` makes everything
deterministic.

Every status change goes through :meth:`Engine._hop`, which takes an :class:`lifecycle.Edge` from
:data:`lifecycle.ASSISTANTS_RUN` (server moves follow ``spec.path`` with client edges blocked;
client moves use ``spec.edge(status, trigger)``) and records ``(status, time)`` in the run's
history and a ``thread.run.<status>`` event in its event log. Which statuses may be cancelled,
accept tool outputs, lock the thread or expire is read from the table too.

Scripted runs (``run.script`` set, see :mod:`adapters.simulator.scripts`) are the one exception,
on purpose: they skip the scenario engine and serve whatever their status script says, through
``_scripted.py``; nothing there goes through :meth:`Engine._hop`.

All methods must be called with :attr:`Engine.lock` held (the HTTP layer does).
"""

from __future__ import annotations

import math
import random
import string
import threading
from collections.abc import Callable, Sequence
from typing import Any

from adapters.simulator import _scripted
from adapters.simulator._records import (
    RUN_STAMPS,
    ApiError,
    AssistantRecord,
    MessageRecord,
    RunRecord,
    SseEvent,
    StepRecord,
    ThreadRecord,
    ToolCallRecord,
    not_found,
)
from adapters.simulator._requests import (
    AssistantCreate,
    MessageCreate,
    RunCreate,
    SubmitToolOutputs,
    ThreadAndRunCreate,
    ThreadCreate,
)
from adapters.simulator.scenarios import (
    SCENARIOS,
    Answer,
    CallTools,
    EndIncomplete,
    Fail,
    Hang,
    Queue,
    Scenario,
    Step,
    SubmittedOutput,
    Work,
    render_answer,
)
from adapters.simulator.scripts import StatusScript
from lifecycle import ASSISTANTS_RUN, RUN_STEP, Driver, Edge, RunStatus, StepStatus

__all__ = ["Engine"]

Json = dict[str, Any]
SPEC = ASSISTANTS_RUN
EXPIRY_SECONDS = 600
_ALPHABET = string.ascii_letters + string.digits

#: guards of client-driven edges: blocked when the server moves a run on its own
_CLIENT_GUARDS = frozenset(e.guard for e in SPEC.edges if e.driver is Driver.CLIENT and e.guard)
_STAMPS = RUN_STAMPS
#: why a still-open assistant message ends incomplete when its run ends in a given status
_MESSAGE_END = {
    RunStatus.CANCELLED: "run_cancelled",
    RunStatus.FAILED: "run_failed",
    RunStatus.EXPIRED: "run_expired",
    RunStatus.INCOMPLETE: "max_tokens",
}
_STEP_STAMPS = {
    StepStatus.COMPLETED: "completed_at",
    StepStatus.CANCELLED: "cancelled_at",
    StepStatus.FAILED: "failed_at",
    StepStatus.EXPIRED: "expired_at",
}
_RUN_DEFAULTS: Json = {
    "temperature": 1.0,
    "top_p": 1.0,
    "max_prompt_tokens": None,
    "max_completion_tokens": None,
    "truncation_strategy": {"type": "auto", "last_messages": None},
    "response_format": "auto",
    "tool_choice": "auto",
    "parallel_tool_calls": True,
}


#: the placeholder scenario of scripted runs (never played: their script decides)
_SCRIPTED = Scenario((Hang(),), description="placeholder: this run follows a status script")


def _duration(step: Step) -> float:
    return math.inf if isinstance(step, Hang) else step.seconds


def _words(text: str) -> int:
    return max(1, len(text.split()))


class Engine:
    """In-memory Assistants state plus the scenario engine.

    Args:
        clock: returns the sim time in seconds.
        default_scenario: the scenario name used when neither run nor assistant names one.
        seed: seeds the id generator (``None``: random).
    """

    def __init__(
        self, clock: Callable[[], float], default_scenario: str, seed: int | None = None
    ) -> None:
        self.clock = clock
        self.lock = threading.RLock()
        self.scenarios: dict[str, Scenario] = dict(SCENARIOS)
        #: status scripts by name; a name is in ``scenarios`` or here, never both
        self.scripts: dict[str, StatusScript] = {}
        if default_scenario not in self.scenarios:
            raise ValueError(f"unknown scenario {default_scenario!r}")
        self.default_scenario = default_scenario
        self.assistants: dict[str, AssistantRecord] = {}
        self.threads: dict[str, ThreadRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self._rng = random.Random(seed)

    # -- ids and lookups -----------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        """A fresh OpenAI-looking id (``run_`` + 24 characters)."""
        return prefix + "_" + "".join(self._rng.choice(_ALPHABET) for _ in range(24))

    def assistant(self, assistant_id: str) -> AssistantRecord:
        """The assistant, or a 404."""
        try:
            return self.assistants[assistant_id]
        except KeyError:
            raise not_found("assistant", assistant_id) from None

    def thread(self, thread_id: str) -> ThreadRecord:
        """The thread, or a 404."""
        try:
            return self.threads[thread_id]
        except KeyError:
            raise not_found("thread", thread_id) from None

    def run(self, thread_id: str, run_id: str) -> RunRecord:
        """The run (advanced to now), or a 404 (also when it belongs to another thread)."""
        self.thread(thread_id)
        run = self.runs.get(run_id)
        if run is None or run.thread_id != thread_id:
            raise not_found("run", run_id)
        self.advance(run)
        return run

    # -- assistants, threads, messages ---------------------------------------------------------

    def create_assistant(self, body: AssistantCreate) -> AssistantRecord:
        """Create an assistant."""
        rec = AssistantRecord(
            id=self.new_id("asst"),
            created_at=int(self.clock()),
            model=body.model,
            name=body.name,
            description=body.description,
            instructions=body.instructions,
            tools=body.tools,
            metadata=body.metadata or {},
            tool_resources=body.tool_resources,
        )
        for attr in ("temperature", "top_p", "response_format"):
            if getattr(body, attr) is not None:
                setattr(rec, attr, getattr(body, attr))
        self.assistants[rec.id] = rec
        return rec

    def create_thread(self, body: ThreadCreate) -> ThreadRecord:
        """Create a thread with its initial messages."""
        rec = ThreadRecord(
            id=self.new_id("thread"),
            created_at=int(self.clock()),
            metadata=body.metadata or {},
            tool_resources=body.tool_resources,
        )
        self.threads[rec.id] = rec
        for message in body.messages:
            self._add_message(rec, message)
        return rec

    def active_run(self, thread: ThreadRecord) -> RunRecord | None:
        """The thread's non-terminal run, if any (all its runs are advanced first)."""
        for run_id in thread.run_ids:
            run = self.runs[run_id]
            self.advance(run)
            if not run.terminal:
                return run
        return None

    def create_message(self, thread_id: str, body: MessageCreate) -> MessageRecord:
        """Add a user message; 400 while a run is active on the thread."""
        thread = self.thread(thread_id)
        active = self.active_run(thread)
        if active is not None:
            raise ApiError(
                400, f"Can't add messages to {thread.id} while a run {active.id} is active."
            )
        return self._add_message(thread, body)

    def _add_message(self, thread: ThreadRecord, body: MessageCreate) -> MessageRecord:
        if body.role not in ("user", "assistant"):
            raise ApiError(
                400,
                f"Invalid value: '{body.role}'. Supported values are: 'user' and 'assistant'.",
                param="role",
                code="invalid_value",
            )
        now = int(self.clock())
        rec = MessageRecord(
            id=self.new_id("msg"),
            thread_id=thread.id,
            role=body.role,
            text=body.text(),
            created_at=now,
            completed_at=now,
            metadata=body.metadata or {},
            attachments=body.attachments or [],
        )
        thread.messages.append(rec)
        return rec

    def messages(self, thread_id: str) -> list[MessageRecord]:
        """The thread's messages, oldest first, with every run advanced to now."""
        thread = self.thread(thread_id)
        self.active_run(thread)
        return list(thread.messages)

    # -- runs ----------------------------------------------------------------------------------

    def create_run(self, thread_id: str, body: RunCreate | ThreadAndRunCreate) -> RunRecord:
        """Create a run on a thread; 400 when another run is active there."""
        thread = self.thread(thread_id)
        assistant = self.assistant(body.assistant_id)
        active = self.active_run(thread)
        if active is not None:
            raise ApiError(400, f"Thread {thread.id} already has an active run {active.id}.")
        scenario_name = self._scenario_name(body.metadata, assistant)
        if isinstance(body, RunCreate):
            for message in body.additional_messages or ():
                self._add_message(thread, message)
        instructions = (
            body.instructions if body.instructions is not None else assistant.instructions
        )
        if isinstance(body, RunCreate) and body.additional_instructions:
            instructions = f"{instructions or ''}\n{body.additional_instructions}".strip()
        options = dict(_RUN_DEFAULTS)
        for key in options:
            value = getattr(body, key)
            if value is not None:
                options[key] = value
        now = self.clock()
        run = RunRecord(
            id=self.new_id("run"),
            thread_id=thread.id,
            assistant_id=assistant.id,
            created_at=int(now),
            model=body.model or assistant.model,
            instructions=instructions or "",
            tools=body.tools if body.tools is not None else list(assistant.tools),
            metadata=body.metadata or {},
            scenario_name=scenario_name,
            scenario=self.scenarios.get(scenario_name, _SCRIPTED),
            options=options,
        )
        run.expires_at = run.created_at + EXPIRY_SECONDS
        run.phase_start = now
        script = self.scripts.get(scenario_name)
        if script is not None:
            _scripted.start(run, script, now)
            self.runs[run.id] = run
            thread.run_ids.append(run.id)
            return run
        run.history.append((run.status, now))
        run.events.append(SseEvent("thread.run.created", run.payload()))
        run.events.append(SseEvent(f"thread.run.{run.status}", run.payload()))
        self.runs[run.id] = run
        thread.run_ids.append(run.id)
        self.advance(run)
        return run

    def _scenario_name(self, metadata: dict[str, str] | None, assistant: AssistantRecord) -> str:
        name = (metadata or {}).get("scenario") or assistant.metadata.get("scenario")
        name = name or self.default_scenario
        if name not in self.scenarios and name not in self.scripts:
            known = ", ".join(sorted([*self.scenarios, *self.scripts]))
            raise ApiError(
                400,
                f"Unknown simulator scenario '{name}'. Known: {known}.",
                param="metadata.scenario",
                code="invalid_value",
            )
        return name

    def runs_of(self, thread_id: str) -> list[RunRecord]:
        """The thread's runs, oldest first, advanced to now."""
        thread = self.thread(thread_id)
        out = [self.runs[r] for r in thread.run_ids]
        for run in out:
            self.advance(run)
        return out

    def cancel(self, thread_id: str, run_id: str) -> RunRecord:
        """Ask to cancel: the run goes ``cancelling``; 400 where the table has no cancel edge."""
        run = self.run(thread_id, run_id)
        if run.script is not None:
            _scripted.cancel(run, self.clock())
            return run
        edge = SPEC.edge(run.status, "cancel")
        if edge is None:
            raise ApiError(400, f"Cannot cancel run with status '{run.status}'.")
        now = self.clock()
        self._hop(run, edge, now)
        run.cancel_at = now
        self.advance(run)
        return run

    def submit(self, thread_id: str, run_id: str, body: SubmitToolOutputs) -> RunRecord:
        """Accept the outputs of the current round: the run goes back to ``queued``.

        Raises:
            ApiError: 400 when the run does not accept outputs, or the ids do not match the
                required calls exactly (missing, unknown or duplicate ids).
        """
        run = self.run(thread_id, run_id)
        if run.script is not None:
            _scripted.submit(run, body, self.clock())
            return run
        edge = SPEC.edge(run.status, "submit_tool_outputs")
        if edge is None or run.required is None:
            raise ApiError(400, f'Runs in status "{run.status}" do not accept tool outputs.')
        required = {c.id: c for c in run.required}
        given = [o.tool_call_id for o in body.tool_outputs]
        _scripted.check_outputs(run.id, list(required), given)
        now = self.clock()
        round_: list[SubmittedOutput] = []
        for out in body.tool_outputs:
            call = required[out.tool_call_id]
            call.output = out.output
            round_.append(SubmittedOutput(call.id, call.name, call.arguments, out.output))
        run.rounds.append(round_)
        if run.open_step is not None:
            self._close_step(run, StepStatus.COMPLETED, now)
        self._hop(run, edge, now)
        run.step_index += 1
        run.phase_start = now
        run.entered = False
        self.advance(run)
        return run

    def serve(self, run: RunRecord, via: str) -> Json:
        """The run object for a JSON response; a scripted run records the read (and a
        ``per_read`` script moves on for a ``"retrieve"``).

        Args:
            run: the run (advanced to now).
            via: ``"create"``, ``"retrieve"``, ``"update"``, ``"list"``, ``"submit"`` or
                ``"cancel"``.
        """
        if run.script is None:
            return run.payload()
        return _scripted.read(run, self.clock(), via)

    def pull(self, run: RunRecord) -> bool:
        """An SSE stream of ``run`` sent everything: let a ``per_read`` script serve its next step.

        Returns:
            Whether new events were produced.
        """
        return run.script is not None and _scripted.pull(run, self.clock())

    # -- the scenario engine -------------------------------------------------------------------

    def advance_all(self) -> None:
        """Advance every run to now."""
        for run in self.runs.values():
            self.advance(run)

    def advance(self, run: RunRecord) -> None:
        """Play the run's scenario forward to the clock's current time."""
        now = self.clock()
        if run.script is not None:
            _scripted.tick(run, now)
            return
        while not run.terminal:
            if run.cancel_at is not None:
                self._advance_cancel(run, now)
                return
            if run.required is not None:  # waiting for the client's outputs
                if now >= run.expires_at:
                    self._end(run, RunStatus.EXPIRED, run.expires_at)
                return
            step = run.scenario.steps[run.step_index]
            if not run.entered:
                if run.phase_start >= run.expires_at:
                    self._end(run, RunStatus.EXPIRED, run.expires_at)
                    return
                self._enter(run, step, run.phase_start)
                run.entered = True
                continue
            due = run.phase_start + _duration(step)
            if due > run.expires_at:
                if now >= run.expires_at:
                    self._end(run, RunStatus.EXPIRED, run.expires_at)
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
        if due > run.expires_at:
            if now >= run.expires_at:
                self._end(run, RunStatus.EXPIRED, run.expires_at)
            return
        if now < due:
            return
        if behaviour.outcome is RunStatus.COMPLETED and run.open_message is None:
            answer = next(
                (s for s in run.scenario.steps[run.step_index :] if isinstance(s, Answer)), None
            )
            if answer is not None:
                self._open_message(run, due)
                assert run.open_message is not None
                run.open_message.text = self._render(run, answer)
        self._end(run, behaviour.outcome, due)

    def _enter(self, run: RunRecord, step: Step, at: float) -> None:
        if isinstance(step, (Work, CallTools, Answer, EndIncomplete)):
            self._reach(run, RunStatus.IN_PROGRESS, at)
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
            self._end(run, RunStatus.COMPLETED, at)
        elif isinstance(step, Fail):
            run.last_error = {"code": step.code, "message": step.message}
            self._end(run, RunStatus.FAILED, at)
        elif isinstance(step, EndIncomplete):
            if run.open_message is not None:
                run.open_message.text = step.text or ""
            run.incomplete_reason = step.reason
            self._end(run, RunStatus.INCOMPLETE, at)

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
        self._reach(run, RunStatus.REQUIRES_ACTION, at)

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

    def _close_step(self, run: RunRecord, status: StepStatus, at: float) -> None:
        rec = run.open_step
        assert rec is not None
        edge = RUN_STEP.edge_between(rec.status, status)
        if edge is None:  # pragma: no cover - the mapping below only picks table edges
            raise RuntimeError(f"step cannot move {rec.status} -> {status}")
        rec.status = status
        setattr(rec, _STEP_STAMPS[status], int(at))
        if status is StepStatus.COMPLETED:
            words = sum(_words(c.arguments) for c in rec.tool_calls) or 1
            rec.usage = {
                "prompt_tokens": 50,
                "completion_tokens": words,
                "total_tokens": 50 + words,
            }
        run.events.append(SseEvent(f"thread.run.step.{status}", rec.payload()))
        run.open_step = None

    def _open_message(self, run: RunRecord, at: float) -> None:
        thread = self.threads[run.thread_id]
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
        thread.messages.append(msg)
        step = self._open_step(run, "message_creation", at)
        step.message_id = msg.id
        run.open_message = msg
        run.events.append(SseEvent("thread.message.created", msg.payload(text="")))
        run.events.append(SseEvent("thread.message.in_progress", msg.payload(text="")))

    def _close_message(self, run: RunRecord, final: RunStatus, at: float) -> None:
        msg = run.open_message
        assert msg is not None
        reason = _MESSAGE_END.get(final)
        for i, chunk in enumerate(_chunks(msg.text) if msg.text else []):
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

    def _reach(self, run: RunRecord, dest: RunStatus, at: float) -> None:
        for edge in self._server_path(run.status, dest):
            self._hop(run, edge, at)

    def _end(self, run: RunRecord, final: RunStatus, at: float) -> None:
        path = self._server_path(run.status, final)
        for edge in path[:-1]:
            self._hop(run, edge, at)
        if run.open_message is not None:
            self._close_message(run, final, at)
        if run.open_step is not None:
            self._close_step(run, _step_status_for(final), at)
        self._hop(run, path[-1], at)

    def _server_path(self, source: RunStatus, dest: RunStatus) -> Sequence[Edge]:
        path = SPEC.path(source, dest, blocked=_CLIENT_GUARDS)
        if path is None or any(e.driver is not Driver.SERVER for e in path):
            raise RuntimeError(f"no server path {source} -> {dest} in {SPEC.name}")
        return path

    def _hop(self, run: RunRecord, edge: Edge, at: float) -> None:
        if edge.source != run.status or SPEC.edge_between(edge.source, edge.dest) is None:
            raise RuntimeError(f"illegal move {run.status} -> {edge.dest}")  # pragma: no cover
        run.status = RunStatus(edge.dest)
        run.history.append((run.status, at))
        stamp = _STAMPS.get(run.status)
        if stamp is not None:
            setattr(run, stamp, int(at))
        if run.status not in SPEC.awaiting_client:
            run.required = None
        if run.terminal:
            prompt = sum(_words(m.text) for m in self.threads[run.thread_id].messages) + 20
            done = sum(
                _words(m.text) for m in self.threads[run.thread_id].messages if m.run_id == run.id
            )
            completion = done + sum(len(r) for r in run.rounds) * 10
            run.usage = {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        run.events.append(SseEvent(f"thread.run.{run.status}", run.payload()))


def _step_status_for(final: RunStatus) -> StepStatus:
    """The status an open step ends in when its run ends in ``final`` (same name, if a step can)."""
    try:
        candidate = StepStatus(final.value)
    except ValueError:
        return StepStatus.COMPLETED
    if RUN_STEP.edge_between(RUN_STEP.initial, candidate) is None:
        return StepStatus.COMPLETED
    return candidate


def _chunks(text: str, size: int = 16) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]
