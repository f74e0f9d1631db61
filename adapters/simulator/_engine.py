"""The simulator's state and its API operations: lazy, clock-driven, documented behaviour only.

Theory of operation
-------------------
Nothing runs in the background. Every operation first advances the runs it touches to "now":
the :class:`~adapters.simulator._play.Player` plays each run's scenario forward on the clock, so a
poll that arrives late sees the same history as one that arrived on time, and a
:class:`~adapters.simulator.ManualClock` makes everything deterministic.

What the operations accept and answer is the documented API behaviour stated in
``_behaviour.py`` (imported as ``api``): a run is created ``queued``; outputs are taken only in
``requires_action`` and move the run to ``queued``; a cancel is taken while ``queued``,
``in_progress`` or ``requires_action`` and answers ``cancelling``; a thread is locked while one of
its runs is not terminal; each refusal is a 400 in the server's wording. Nothing here reads the
core's transition table: the simulator is an independent witness for the engine under test.

Scripted runs (``run.script`` set, see :mod:`adapters.simulator.scripts`) are the one exception,
on purpose: they skip the scenario player and serve whatever their status script says, through
``_scripted.py``.

All methods must be called with :attr:`Engine.lock` held (the HTTP layer does).
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Callable
from typing import Any

from adapters.simulator import _behaviour as api
from adapters.simulator import _scripted
from adapters.simulator._play import Player
from adapters.simulator._records import (
    ApiError,
    AssistantRecord,
    MessageRecord,
    RunRecord,
    SseEvent,
    ThreadRecord,
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
from adapters.simulator.scenarios import SCENARIOS, Hang, Scenario, SubmittedOutput
from adapters.simulator.scripts import SCRIPTS, StatusScript

__all__ = ["Engine"]

Json = dict[str, Any]
_ALPHABET = string.ascii_letters + string.digits
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
        self.scripts: dict[str, StatusScript] = dict(SCRIPTS)
        if default_scenario not in self.scenarios and default_scenario not in self.scripts:
            raise ValueError(f"unknown scenario {default_scenario!r}")
        self.default_scenario = default_scenario
        self.assistants: dict[str, AssistantRecord] = {}
        self.threads: dict[str, ThreadRecord] = {}
        self.runs: dict[str, RunRecord] = {}
        self._rng = random.Random(seed)
        self.player = Player(self.new_id, self.threads)

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
            raise ApiError(400, api.cannot_add_message(thread.id, active.id))
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
            raise ApiError(400, api.thread_busy(thread.id, active.id))
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
        run.expires_at = run.created_at + api.EXPIRY_SECONDS
        run.phase_start = now
        script = self.scripts.get(scenario_name)
        if script is not None:
            _scripted.start(run, script, now)
            self.runs[run.id] = run
            thread.run_ids.append(run.id)
            return run
        run.history.append((run.status, now))  # rule 1: created queued
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
        scenario = self.scenarios.get(name)
        if scenario is not None and scenario.responses_only:
            raise ApiError(
                400,
                f"Simulator scenario '{name}' asks for MCP approvals; it plays on /v1/responses "
                "only.",
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
        """Ask to cancel: the run goes ``cancelling`` (rule 5); 400 when it is not cancellable."""
        run = self.run(thread_id, run_id)
        now = self.clock()
        if run.script is not None:
            _scripted.cancel(run, now)
            return run
        if run.status not in api.CANCELLABLE:
            raise ApiError(400, api.cannot_cancel(run.status))
        self.player.move(run, api.CANCELLING, now)
        run.cancel_at = now
        self.advance(run)
        return run

    def submit(self, thread_id: str, run_id: str, body: SubmitToolOutputs) -> RunRecord:
        """Accept the outputs of the current round: the run goes back to ``queued`` (rule 4).

        Raises:
            ApiError: 400 when the run does not accept outputs, or the ids do not match the
                required calls exactly (missing, unknown or duplicate ids).
        """
        run = self.run(thread_id, run_id)
        if run.script is not None:
            _scripted.submit(run, body, self.clock())
            return run
        if run.status not in api.ACCEPTS_OUTPUTS or run.required is None:
            raise ApiError(400, api.does_not_accept_outputs(run.status))
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
            self.player.close_step(run, api.COMPLETED, now)  # rule 10
        self.player.move(run, api.QUEUED, now)  # rule 4
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

    def peek(self, run: RunRecord) -> Json:
        """The run object as of now, without counting as a read of a status script."""
        return run.payload() if run.script is None else _scripted.payload(run)

    def pull(self, run: RunRecord) -> bool:
        """An SSE stream of ``run`` sent everything: let a ``per_read`` script serve its next step.

        Returns:
            Whether new events were produced.
        """
        return run.script is not None and _scripted.pull(run, self.clock())

    # -- the clock -----------------------------------------------------------------------------

    def advance_all(self) -> None:
        """Advance every run to now."""
        for run in self.runs.values():
            self.advance(run)

    def advance(self, run: RunRecord) -> None:
        """Play the run's scenario (or status script) forward to the clock's current time."""
        now = self.clock()
        if run.script is not None:
            _scripted.tick(run, now)
            return
        self.player.advance(run, now)
