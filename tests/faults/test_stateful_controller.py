"""A Hypothesis state machine over the real controller: simulator, HTTP, store, crashes.

The pure machine in ``test_stateful.py`` checks the lifecycle, registry and ledger. This one
drives :class:`adapters.openai.RunController` itself, with the real ``openai`` client over
loopback HTTP to the simulator and a durable :class:`adapters.store.RunStore`, and lets
Hypothesis interleave, between any two of the controller's sleeps:

* server moves (simulated time passes: the scenario plays on; long jumps expire runs),
* dropped observations (time passes while the controller is parked, so it skips statuses),
  duplicated and stale observations, unknown statuses, a replayed old ``required_action`` and a
  ``requires_action`` without its payload (rewritten on the wire),
* HTTP faults (500, 429 with ``retry-after-ms``, connections dropped before the response, a
  create or submit applied on the server whose response is lost),
* model tool calls drawn per run: valid, invalid JSON, wrong argument types, unknown names,
  dunders, a tool that raises,
* crashes: the process dies while asleep, or at a named crash point armed for the process;
  the restart opens the store again and calls ``recover()``,
* cancels: the user's (a ``CancelToken``) and a foreign one (another client cancels the run),
* a second ``run()`` on the busy thread (it must be refused without a request).

How it steps: the controller runs in a worker thread whose ``sleep`` parks it (a
:class:`Gate`); each rule runs while it is parked, and the ``step`` rule lets it go until its next
sleep or its end. A controller sleep moves the simulated clock by the time it asked for.

After every step the invariants I1-I9 of the failure catalogue are checked (I2 and I4 when a
drive ends, since they are about how it ends). Shrunk counterexamples found by this machine are
kept as plain regression tests at the end of the module.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import shutil
import tempfile
import threading
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from adapters.openai import (
    CancelToken,
    CrashPoint,
    RetryPolicy,
    RunController,
    RunOutcome,
    ThreadBusy,
)
from adapters.openai._errors import CRASH_POINTS
from adapters.simulator import (
    Answer,
    CallTools,
    CancelBehaviour,
    EndIncomplete,
    Fail,
    Fault,
    Hang,
    Queue,
    Scenario,
    ToolCallSpec,
    Work,
)
from adapters.simulator._records import ApiError
from adapters.store import EffectPhase, RunStore
from lifecycle import ASSISTANTS_RUN, CallState, RunStatus, ToolRegistry
from lifecycle.kernel import CallFailed, EndingKind
from tests.faults.harness import SECRET_KEY, Effects, Rule, World, journal_is_continuous

SPEC = ASSISTANTS_RUN
POLL_S = 0.05  # the simulator's openai-poll-after-ms, in seconds
OVERALL_S = 40.0
CANCEL_DEADLINE_S = 0.3
STATE_DEADLINE_S = 30.0
MAX_ATTEMPTS = 4
RETRY_CAP_S = 0.5
#: real seconds a worker may take between two of its sleeps before the test calls it stuck
REAL_TIMEOUT_S = 30.0
#: the most requests one release may make before it sleeps again (I9: no busy loop)
MAX_REQUESTS_PER_STEP = 16
#: releases allowed after the overall deadline plus the cancelling deadline have passed (I4)
MAX_OVERDUE_STEPS = 2 + int(CANCEL_DEADLINE_S / POLL_S) + 2 * MAX_ATTEMPTS

HTTP_FAULTS = (
    *("get_500", "get_429", "get_drop", "submit_500", "submit_lost"),
    *("create_lost", "create_500", "cancel_lost", "list_500"),
)

#: the states a ledger entry may end a drive in, and the reasons an undelivered output may carry
_SETTLED = {CallState.DELIVERED, CallState.EXECUTED_UNDELIVERED, CallState.UNDELIVERED}
_ACTIVE_RUN_400 = "already has an active run"
_MISMATCH_400 = ("Duplicate tool_call_id", "not found in run", "Expected tool outputs")


class Stuck(AssertionError):
    """The controller neither slept nor ended within :data:`REAL_TIMEOUT_S` real seconds."""


class Gate:
    """Parks a controller's worker thread at each of its sleeps until the test lets it go.

    ``sleep`` is the controller's sleep: it records the wait, parks, and on release moves the
    simulated clock by the time asked for (a kill raises :class:`CrashPoint` instead: the
    process dies while asleep, and nothing after it runs).
    """

    def __init__(self, advance: Callable[[float], object]) -> None:
        self._advance = advance
        self._cv = threading.Condition()
        self._go = False
        self._kill = False
        self._free = False
        self.parked: float | None = None  # the sleep the worker is parked in
        self.parks = 0  # how many times it parked
        self.sleeps: list[float] = []
        self.worker: threading.Thread | None = None
        self.finished = True
        self.result: Any = None
        self.error: BaseException | None = None

    # -- the worker's side -------------------------------------------------------------------

    def sleep(self, seconds: float) -> None:
        """The controller's sleep (called on the worker thread only)."""
        if threading.current_thread() is not self.worker:
            raise AssertionError("the controller slept outside its worker thread")
        with self._cv:
            self.sleeps.append(seconds)
            if not self._free:
                self.parked = seconds
                self.parks += 1
                self._cv.notify_all()
                if not self._cv.wait_for(lambda: self._go or self._kill, timeout=600):
                    raise Stuck("the test never released the worker")
                self.parked = None
                self._go = False
                if self._kill:
                    self._kill = False
                    raise CrashPoint("asleep")
        self._advance(seconds)

    def _main(self, job: Callable[[], Any]) -> None:
        result: Any = None
        error: BaseException | None = None
        try:
            result = job()
        except BaseException as exc:
            error = exc
        with self._cv:
            self.result, self.error, self.finished = result, error, True
            self._cv.notify_all()

    # -- the test's side ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether a job was launched and has not finished."""
        return not self.finished

    def launch(self, job: Callable[[], Any]) -> None:
        """Run ``job`` on a new worker thread, until it first sleeps or ends."""
        assert self.finished, "one job at a time"
        self.finished, self.result, self.error = False, None, None
        self.worker = threading.Thread(target=self._main, args=(job,), daemon=True)
        with self._cv:
            parks = self.parks
        self.worker.start()
        self._wait(parks)

    def release(self) -> None:
        """Let the parked worker go until its next sleep or its end."""
        with self._cv:
            parks = self.parks
            self._go = True
            self._cv.notify_all()
        self._wait(parks)

    def kill(self) -> None:
        """The process dies while the worker is asleep."""
        with self._cv:
            self._kill = True
            self._cv.notify_all()
        self._wait(None)

    def drain(self) -> None:
        """Stop parking: let the worker sleep freely (moving the clock) until its end."""
        with self._cv:
            self._free = True
            self._go = True
            self._cv.notify_all()
            if not self._cv.wait_for(lambda: self.finished, timeout=REAL_TIMEOUT_S * 4):
                raise Stuck("the controller did not end once it was let run freely")

    def _wait(self, parks: int | None) -> None:
        """Wait until the worker ends, or (``parks`` given) parks once more."""
        with self._cv:
            ok = self._cv.wait_for(
                lambda: self.finished or (parks is not None and self.parks > parks),
                timeout=REAL_TIMEOUT_S,
            )
        if not ok:
            raise Stuck(f"the controller neither slept nor ended within {REAL_TIMEOUT_S:.0f} s")


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))


# -- what the model asks for ----------------------------------------------------------------

CALL_KINDS = st.sampled_from(
    ["charge"] * 5 + ["bad_json", "wrong_type", "unknown", "dunder", "boom", "parallel"]
)
FINALS = st.sampled_from(["answer"] * 3 + ["fail", "incomplete", "hang"])
CANCELS = st.sampled_from(["confirm"] * 6 + ["never", "lost_race"])
ROUNDS = st.lists(st.lists(CALL_KINDS, min_size=1, max_size=3), min_size=1, max_size=2)
#: crashes per example (a process that dies at every other step never gets anything done)
MAX_CRASHES = 2
DURATIONS = st.sampled_from([0.02, 0.02, 0.1, 0.5, 2.0])
JUMPS = st.sampled_from([0.02, 0.1, 1.0, 10.0, 45.0, 700.0])
CRASHES = st.one_of(st.none(), st.none(), st.none(), st.sampled_from(sorted(CRASH_POINTS)))


def _call(kind: str, order: str) -> ToolCallSpec:
    if kind == "charge":
        return ToolCallSpec.of("charge", {"order": order})
    if kind == "bad_json":
        return ToolCallSpec("charge", '{"order": "' + order)
    if kind == "wrong_type":
        return ToolCallSpec.of("charge", {"order": 5, "tag": order})
    if kind == "unknown":
        return ToolCallSpec.of("refund", {"order": order})
    if kind == "dunder":
        return ToolCallSpec.of("__class__", {"order": order})
    if kind == "parallel":
        return ToolCallSpec.of("multi_tool_use.parallel", {"order": order})
    return ToolCallSpec.of("boom", {"order": order})


def _final(kind: str, seconds: float) -> Any:
    if kind == "answer":
        return Answer("{outputs}", seconds=seconds)
    if kind == "fail":
        return Fail(seconds=seconds)
    if kind == "incomplete":
        return EndIncomplete(seconds=seconds)
    return Hang()


def _cancel(kind: str) -> CancelBehaviour:
    if kind == "never":
        return CancelBehaviour(confirm_after=None)
    if kind == "lost_race":
        return CancelBehaviour(outcome=RunStatus.COMPLETED)
    return CancelBehaviour()


class MachineParts:
    """What the state machines over the real controllers share (this one and the chains'):
    drawing a scenario's steps, and the teardown. The attributes are each machine's own."""

    def _steps(self, rounds: list[list[str]], first: float, work: float, final: str) -> list[Any]:
        """The scenario steps for the drawn tool rounds (each call named after a new order)
        and ending."""
        steps: list[Any] = [Queue(first)]
        for kinds in rounds:
            calls = []
            for kind in kinds:
                self.n += 1
                calls.append(_call(kind, f"o{self.n}"))
            steps += [CallTools(tuple(calls), seconds=work), Queue(first)]
        if not rounds:
            steps.append(Work(work))
        steps.append(_final(final, work))
        return steps

    def teardown(self) -> None:
        """Let a running drive end freely (it must), check it, close the store."""
        try:
            if self.gate.running:
                self.gate.drain()
                self._job_ended()
                self.check_all()
        finally:
            logging.getLogger().removeHandler(self.capture)
            logging.getLogger("adapters").setLevel(logging.NOTSET)
            if self.store is not None:
                self.store.close()
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.world.__exit__(None, None, None)

    n: int
    gate: Gate
    capture: _Capture
    store: RunStore | None
    tmp: Path
    world: Any
    _job_ended: Callable[[], None]
    check_all: Callable[[], None]


class Job:
    """One drive: ``run()`` of a new run, or ``recover()`` after a restart."""

    def __init__(
        self, kind: str, started: float, creates: int, sent: int, runs: frozenset[str]
    ) -> None:
        self.kind = kind
        self.started = started  # simulated time at launch
        self.creates = creates  # POST /runs the simulator had seen at launch
        self.runs = runs  # the thread's runs on the server at launch
        self.sent = sent  # index into the rewriter's sent log at launch
        self.overdue_steps = 0
        self.tried: set[str] = set()  # once-per-drive rules already applied


class ControllerMachine(MachineParts, RuleBasedStateMachine):
    """The server (simulator), the wire (faults, rewrites), one process at a time, and a store."""

    def __init__(self) -> None:
        super().__init__()
        # a fresh simulator per example: the clock, ids and expiry times must replay exactly
        self.world = World(poll_after_ms=int(POLL_S * 1000), keepalive=False).__enter__()
        self.tmp = Path(tempfile.mkdtemp(prefix="lifecycle-stateful-"))
        self.effects = Effects()
        self.tools = self._registry()
        self.thread = ""
        self.n = 0
        self.crashed = False
        self.store: RunStore | None = None
        self.controller: RunController | None = None
        self.gate = Gate(self.world.clock.advance)
        self.job: Job | None = None
        self.token: CancelToken | None = None
        self.faults: list[Fault] = []
        self.capture = _Capture()
        self._count_before = 0
        self._cut_short = False
        self.outcomes: list[RunOutcome] = []
        self.crashes = 0
        self._executed = 0

    def _registry(self) -> ToolRegistry:
        tools = ToolRegistry()
        effects = self.effects

        @tools.tool
        def charge(order: str) -> str:
            """Charge an order (not idempotent: counts real executions)."""
            effects.hit(order)
            return f"charged {order} with {SECRET_KEY[:6]}..."

        @tools.tool
        def boom(order: str) -> str:
            """Runs, then raises (with the key in the message, which must not leak)."""
            effects.hit(order)
            raise RuntimeError(f"card declined; key={SECRET_KEY}")

        return tools

    # -- processes ---------------------------------------------------------------------------

    def _start_process(self, crash_at: str | None) -> None:
        w = self.world
        self.store = RunStore(self.tmp / "runs.db", clock=w.clock)
        self.gate = Gate(w.clock.advance)
        config = w.config(
            poll_interval_s=POLL_S,
            overall_timeout_s=OVERALL_S,
            deadlines={
                "queued": STATE_DEADLINE_S,
                "in_progress": STATE_DEADLINE_S,
                "requires_action": STATE_DEADLINE_S,
                "cancelling": CANCEL_DEADLINE_S,
            },
            retry=RetryPolicy(max_attempts=MAX_ATTEMPTS, base_s=0.05, cap_s=RETRY_CAP_S),
        )
        self.controller = RunController(
            w.api,
            tools=self.tools,
            config=config,
            sleep=self.gate.sleep,
            clock=w.clock,
            wall_clock=w.clock,
            rng=random.Random(self.n),
            store=self.store,
            crash_at=crash_at,
        )
        self.crashed = False

    def _launch(self, kind: str, job: Callable[[], Any]) -> None:
        w = self.world
        runs = frozenset(w.runs_on(self.thread)) if self.thread else frozenset()
        self.job = Job(kind, w.clock(), self._creates(), len(w.rewriter.sent), runs)
        self._count_before = len(w.sim.requests)
        self.gate.launch(job)
        self._after_release()

    def _creates(self) -> int:
        return self.world.count("POST", f"/v1/threads/{self.thread}/runs")

    @initialize(crash_at=CRASHES)
    def setup(self, crash_at: str | None) -> None:
        """A thread on the simulator and a first process (which may die at ``crash_at``)."""
        logging.getLogger().addHandler(self.capture)
        logging.getLogger("adapters").setLevel(logging.DEBUG)
        self.thread = self.world.thread()
        self._start_process(crash_at)

    # -- the model and the user ------------------------------------------------------------

    @precondition(lambda self: not self.gate.running and not self.crashed)
    @rule(
        rounds=st.one_of(ROUNDS, ROUNDS, ROUNDS, st.just([])),
        first=DURATIONS,
        work=DURATIONS,
        final=FINALS,
        cancel=CANCELS,
    )
    def start_run(
        self, rounds: list[list[str]], first: float, work: float, final: str, cancel: str
    ) -> None:
        """The user starts a run; the model's tool calls and ending are drawn for it."""
        steps = self._steps(rounds, first, work, final)
        scenario = Scenario(tuple(steps), cancel=_cancel(cancel))
        self.n += 1
        name = f"st-{id(self)}-{self.n}"
        meta = self.world.scenario(name, scenario)
        self.token = CancelToken()
        controller, token, thread = self.controller, self.token, self.thread
        assert controller is not None
        self._launch(
            "run",
            lambda: controller.run(
                thread_id=thread,
                assistant_id=self.world.assistant_id,
                metadata=meta,
                cancel_token=token,
            ),
        )

    @precondition(lambda self: self.gate.running and self.gate.parked is not None)
    @rule(sleeps=st.sampled_from([1, 1, 2, 5, 20]))
    def step(self, sleeps: int) -> None:
        """The controller wakes up and goes on until its next sleep (or its end), ``sleeps``
        times in a row (every release is checked for I4 and I9 on its own)."""
        for _ in range(sleeps):
            if not self.gate.running:
                return
            self._count_before = len(self.world.sim.requests)
            job = self.job
            assert job is not None
            overdue = job.started + OVERALL_S + CANCEL_DEADLINE_S + RETRY_CAP_S
            if self.world.clock() > overdue:
                job.overdue_steps += 1
                assert job.overdue_steps <= MAX_OVERDUE_STEPS, "I4: still running past deadline"
            self.gate.release()
            self._after_release()

    @precondition(lambda self: self._once("user_cancels") and self.token is not None)
    @rule()
    def user_cancels(self) -> None:
        """The user asks for the run to be cancelled."""
        assert self.token is not None
        assert self.job is not None
        self.job.tried.add("user_cancels")
        self.token.cancel()

    @precondition(lambda self: self._once("foreign_cancel") and self._active_run() is not None)
    @rule()
    def foreign_cancel(self) -> None:
        """Someone else (another client) cancels the active run on the thread."""
        assert self.job is not None
        self.job.tried.add("foreign_cancel")
        run_id = self._active_run()
        assert run_id is not None
        engine = self.world.sim.engine
        with engine.lock, contextlib.suppress(ApiError):  # it ended or is already cancelling
            engine.cancel(self.thread, run_id)

    @precondition(lambda self: self._once("second_run"))
    @rule()
    def second_run_on_the_busy_thread(self) -> None:
        """Another ``run()`` on the thread while a drive is under way: refused, no request."""
        controller = self.controller
        assert controller is not None
        assert self.job is not None
        self.job.tried.add("second_run")
        before = len(self.world.sim.requests)
        with pytest.raises(ThreadBusy):
            controller.run(thread_id=self.thread, assistant_id=self.world.assistant_id)
        _event("second run refused")
        assert len(self.world.sim.requests) == before, "I6: a refused run() sent requests"

    # -- the server and the wire -------------------------------------------------------------

    @rule(seconds=JUMPS)
    def server_moves(self, seconds: float) -> None:
        """Simulated time passes while the controller sleeps: the server plays on (observations
        in between are dropped; a long jump expires the run)."""
        self.world.clock.advance(seconds)

    @precondition(lambda self: self._pending_faults() < MAX_ATTEMPTS - 2)
    @rule(
        kind=st.sampled_from(HTTP_FAULTS),
        retry_after_ms=st.sampled_from([0, 30, 1500]),
    )
    def http_fault(self, kind: str, retry_after_ms: int) -> None:
        """The next matching request fails (once); retries must absorb it."""
        runs = f"/v1/threads/{self.thread}/runs"
        fault = {
            "get_500": Fault(method="GET", path=runs + "/*", status=500),
            "get_429": Fault(
                method="GET",
                path=runs + "/*",
                status=429,
                headers={"retry-after-ms": str(retry_after_ms)},
            ),
            "get_drop": Fault(method="GET", path=runs + "/*", drop="before_response"),
            "submit_500": Fault(method="POST", path=runs + "/*/submit_tool_outputs", status=500),
            "submit_lost": Fault(
                method="POST", path=runs + "/*/submit_tool_outputs", applied_then_fail="drop"
            ),
            "create_lost": Fault(method="POST", path=runs, applied_then_fail="drop"),
            "create_500": Fault(method="POST", path=runs, status=500),
            "cancel_lost": Fault(method="POST", path=runs + "/*/cancel", applied_then_fail="drop"),
            "list_500": Fault(method="GET", path=runs, status=500),
        }[kind]
        self.faults.append(self.world.sim.faults.add(fault))

    @precondition(lambda self: self._pending_rewrites() < 2)
    @rule(
        kind=st.sampled_from(["stale", "unknown", "drop_action", "replay"]),
        status=st.sampled_from(["queued", "in_progress", "requires_action"]),
        times=st.integers(1, 2),
    )
    def rewrite_next_read(self, kind: str, status: str, times: int) -> None:
        """The next read(s) show a stale or duplicated status, an unknown one, a requires_action
        without its payload, or an old requires_action payload again."""
        w = self.world
        if kind == "stale":
            w.rewriter.add(self.thread, Rule(status=status, times=times))
        elif kind == "unknown":
            w.rewriter.add(self.thread, Rule(status="paused_for_review", times=times))
        elif kind == "drop_action":
            w.rewriter.add(
                self.thread, Rule(when="requires_action", drop_required_action=True, times=times)
            )
        else:
            old = w.rewriter.captured.get(self.thread)
            if old is not None and old.get("id") == self._active_run():
                w.rewriter.add(self.thread, Rule(payload=self.thread, times=times))

    # -- crashes -----------------------------------------------------------------------------

    @precondition(lambda self: self._once("crash") and self.crashes < MAX_CRASHES)
    @rule()
    def crash(self) -> None:
        """The process dies while the controller is asleep."""
        self.crashes += 1
        self._count_before = len(self.world.sim.requests)
        self.gate.kill()
        self._after_release()

    @precondition(lambda self: self.crashed)
    @rule(crash_at=CRASHES)
    def restart(self, crash_at: str | None) -> None:
        """A new process opens the store and recovers (it may die too, at ``crash_at``)."""
        assert self.store is not None
        self.store.close()
        self._start_process(crash_at)
        controller = self.controller
        assert controller is not None
        self.token = None
        self._launch("recover", controller.recover)

    # -- after a release: a drive may have ended -------------------------------------------------

    def _after_release(self) -> None:
        w = self.world
        made = w.sim.requests[self._count_before :]
        assert len(made) <= MAX_REQUESTS_PER_STEP, (
            f"I9: {len(made)} requests without a sleep in between"
        )
        if self._cut_short and made:
            # a wait cut short by a deadline is followed by the deadline's action (a cancel, or
            # the end), never by the request the server asked us to hold back
            assert made[0].method != "GET", "I9: a 429 retried before its retry-after"
        self._cut_short = False
        if self.gate.running and made and made[-1].fault is not None:
            last = made[-1].fault
            wait = last.headers.get("retry-after-ms")
            if last.status == 429 and wait is not None:
                # the next sleep honours retry-after, unless a deadline comes first (I9, I4)
                assert self.gate.parked is not None
                self._cut_short = self.gate.parked < int(wait) / 1000
        if not self.gate.running:
            self._job_ended()

    def _job_ended(self) -> None:
        job, error, result = self.job, self.gate.error, self.gate.result
        assert job is not None
        self.job = None
        _event(f"{job.kind} ended: {type(error).__name__ if error else 'outcome'}")
        if isinstance(error, CrashPoint):
            self.crashed = True
            return
        if isinstance(error, ThreadBusy):
            assert job.kind == "run"
            # I6: refused locally, without a create request, and the thread really is busy
            assert self._creates() == job.creates, "I6: a create was sent to a busy thread"
            assert self._busy(), f"ThreadBusy but nothing is active: {error}"
            return
        if job.kind == "run" and isinstance(error, openai.APIError | CallFailed):
            # I7: a create may fail for good only once the overall deadline passed before any
            # run was seen; nothing is lost: no new run exists, or the store keeps the intent
            # open for recover()
            assert self.world.clock() > job.started + OVERALL_S, f"I7: create failed: {error}"
            new_runs = set(self.world.runs_on(self.thread)) - job.runs
            unbound = self.store.unbound_creates() if self.store is not None else []
            assert not new_runs or any(i.thread_id == self.thread for i in unbound), (
                f"I7: the create failed but run(s) {new_runs} exist and no intent is open"
            )
            return
        if error is not None:  # I7: nothing else may escape the controller
            text = "".join(traceback.format_exception(error))
            raise AssertionError(f"I7: the controller raised\n{text}")
        outcomes = [result] if job.kind == "run" else list(result)
        for outcome in outcomes:
            assert isinstance(outcome, RunOutcome)
            _event(f"outcome: {outcome.status} deadline={outcome.deadline}")
            self.outcomes.append(outcome)
            self._check_outcome(outcome, job)

    def _check_outcome(self, out: RunOutcome, job: Job) -> None:
        tag = f"{out!r}"
        # I4: a controller-terminal end with a machine-readable reason
        ended = (
            out.status in SPEC.terminal_values
            or out.deadline is not None
            or out.cancel_unconfirmed
            or out.abandoned is not None
            or out.status in ("lost_handle", "not_created")
            or bool(out.unknown_effects)
        )
        if out.ending.kind is EndingKind.OUTCOME_UNKNOWN:
            # a create intent recover() could not look up (the run list failed for good): it
            # ends without a run, and the store keeps the intent open for the next recover()
            assert (job.kind, out.ending.detail, out.run_id) == ("recover", "create", "")
            assert self.store is not None
            assert any(i.thread_id == self.thread for i in self.store.unbound_creates())
            ended = True
        assert ended, f"I4: {tag} ended without a terminal status or a reason"
        # I2: every call settled: delivered once, or undelivered with a reason, or held unknown
        rounds = self.world.sim.tool_outputs(out.run_id) if out.run_id in self._runs() else []
        submitted = Counter(o.tool_call_id for r in rounds for o in r)
        for entry in out.ledger.entries.values():
            cid = entry.tool_call_id
            if cid in out.unknown_effects:
                continue
            assert entry.state in _SETTLED, f"I2: {cid} left {entry.state} in {tag}"
            if entry.state is CallState.DELIVERED:
                assert submitted[cid] == 1, f"I2: {cid} delivered {submitted[cid]} times"
            else:
                assert entry.reason, f"I2: {cid} {entry.state} without a reason"
                if out.status in SPEC.terminal_values:
                    assert submitted[cid] == 0, f"I2: {cid} was delivered but not recorded"
        # I5: every status sent to this process during the drive is journaled or an anomaly
        dests = {SPEC.initial.value} | {e.dest for e in out.history}
        seen = dests | {a.observed for a in out.anomalies}
        for run_id, status in self.world.rewriter.sent[job.sent :]:
            if run_id == out.run_id:
                assert status in seen, f"I5: {status!r} sent but neither journaled nor an anomaly"
        assert journal_is_continuous(out.history), f"I5: journal gap in {tag}"
        # I8: no key in reprs or outcome texts
        for text in (repr(out), str(out.anomalies), str(out.tool_calls), *out.messages):
            assert SECRET_KEY not in text, "I8: key in an outcome"

    # -- invariants, after every step --------------------------------------------------------

    @invariant()
    def check_all(self) -> None:
        """I1, I3, I5, I6, I8 and I9 hold now (I2, I4 and I7 are checked when a drive ends)."""
        w = self.world
        # I1: at most one execution per call, across retries, stale reads and restarts
        assert max(self.effects.count.values(), default=0) <= 1, f"I1: {self.effects.count}"
        if self.effects.total > self._executed:
            self._executed = self.effects.total
            _event("executed a tool")
        if self.store is not None and not self.crashed:
            started = Counter(
                e.tool_call_id for e in self.store.effects() if e.phase is EffectPhase.STARTED
            )
            assert max(started.values(), default=0) <= 1, f"I1: started twice {started}"
            # I5: each persisted journal is a chain of table edges
            for stored in self.store.runs_of_thread(self.thread):
                assert journal_is_continuous(stored.snapshot.journal), "I5: stored journal gap"
        errors = [e for e in w.rewriter.errors if e[0] == self.thread]
        # I3: no submission the server refused for its ids (duplicate, unknown or missing)
        bad = [e for e in errors if e[3] == 400 and any(m in e[4] for m in _MISMATCH_400)]
        assert not bad, f"I3: {bad}"
        for run_id in self._runs():
            ids = [o.tool_call_id for r in w.sim.tool_outputs(run_id) for o in r]
            assert len(ids) == len(set(ids)), f"I3: {ids} submitted more than once"
        # I6: one active run per thread; never a create the server refused for an active run
        assert sum(1 for r in self._run_records() if not r.terminal) <= 1
        refused = [e for e in errors if e[3] == 400 and _ACTIVE_RUN_400 in e[4]]
        assert not refused, f"I6: create sent while a run was active: {refused}"
        # I8: no key in logs or in the store's files
        assert not any(SECRET_KEY in t for t in self.capture.texts), "I8: key in the logs"
        for f in self.tmp.glob("runs.db*"):
            assert SECRET_KEY.encode() not in f.read_bytes(), f"I8: key in {f.name}"
        # I4: a drive past its overall + cancelling deadline ends within a few steps
        if self.job is not None:
            assert self.job.overdue_steps <= MAX_OVERDUE_STEPS, "I4: still running past deadline"

    # -- helpers -----------------------------------------------------------------------------

    def _run_records(self) -> list[Any]:
        return [r for r in self.world.sim.runs.values() if r.thread_id == self.thread]

    def _runs(self) -> list[str]:
        return [r.id for r in self._run_records()]

    def _active_run(self) -> str | None:
        self.world.sim.tick()
        active = [r.id for r in self._run_records() if not r.terminal]
        return active[0] if active else None

    def _busy(self) -> bool:
        if self._active_run() is not None:
            return True
        assert self.store is not None
        if any(i.thread_id == self.thread for i in self.store.unbound_creates()):
            # a create whose answer was lost: the run may exist, and the documented contract
            # is that the thread stays claimed until recover() (or a lookup) settles it
            return True
        return any(
            not s.terminal and s.closed != "lost_handle"
            for s in self.store.runs_of_thread(self.thread)
        )

    def _once(self, name: str) -> bool:
        """A drive is parked and the once-per-drive rule ``name`` was not applied to it yet."""
        job = self.job
        return job is not None and self.gate.parked is not None and name not in job.tried

    def _pending_rewrites(self) -> int:
        rules = self.world.rewriter.rules.get(self.thread, [])
        return sum(1 for r in rules if r.fired < r.times)

    def _pending_faults(self) -> int:
        return sum(1 for f in self.faults if self.world.sim.faults.fired(f) == 0)


#: what the machine exercised, over every example of a test (see the test's coverage check)
SEEN: Counter[str] = Counter()
#: the events of the current replayed sequence, in order (see ``_replay``)
TRAIL: list[str] = []


def _event(text: str) -> None:
    """Count ``text`` (and in Hypothesis's statistics, when inside a Hypothesis test), and
    keep it in :data:`TRAIL` (what a replayed sequence went through)."""
    SEEN[text] += 1
    TRAIL.append(text)
    with contextlib.suppress(InvalidArgument):
        event(text)


@pytest.mark.slow
def test_the_controller_keeps_every_invariant_under_interleaved_faults() -> None:
    """Hypothesis interleaves server moves, wire faults, tool calls, crashes and cancels with the
    real controller's steps; I1-I9 hold after every step."""
    SEEN.clear()
    run_state_machine_as_test(
        ControllerMachine,
        settings=settings(
            settings.default,
            # each example drives real HTTP: the ci profile's 400 would take minutes
            max_examples=min(settings.default.max_examples, 200),
            # outside CI the examples are fixed, so the coverage checks below cannot fail by
            # the luck of a seed; CI (the ci profile) draws new ones on every run
            derandomize=os.environ.get("HYPOTHESIS_PROFILE") != "ci",
            stateful_step_count=50,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    print("\nstateful controller:", dict(sorted(SEEN.items())))
    # the machine really went where it should: not a vacuous pass
    assert SEEN["outcome: completed deadline=None"] > 0
    assert SEEN["run ended: CrashPoint"] > 0
    assert SEEN["recover ended: outcome"] > 0
    assert SEEN["run ended: ThreadBusy"] + SEEN["second run refused"] > 0
    assert any(k.startswith("executed") for k in SEEN)


# -- shrunk counterexamples, kept as regression tests ------------------------------------------


class Replay:
    """What a replayed sequence went through: its events in order, the requests the simulator
    saw, the wire rewrites that fired and the outcomes the drives ended with."""

    def __init__(self, trail: list[str], machine: ControllerMachine) -> None:
        self.trail = trail
        self.requests = machine.world.sim.requests
        self.rewrites = sum(
            r.fired for rules in machine.world.rewriter.rules.values() for r in rules
        )
        self.outcomes = list(machine.outcomes)

    def faulted(self, method: str, suffix: str) -> int:
        """How many requests ending with ``suffix`` a fault answered (or dropped)."""
        return sum(
            1
            for r in self.requests
            if r.fault is not None and r.method == method and r.path.endswith(suffix)
        )

    def before(self, first: str, then: str) -> bool:
        """Whether the event ``first`` happened, and ``then`` after it."""
        return first in self.trail and then in self.trail[self.trail.index(first) + 1 :]


def _replay(*steps: Callable[[ControllerMachine], object]) -> Replay:
    """Run the steps on a fresh machine, checking the invariants after each, then tear down.

    Returns what the sequence went through, for the test to assert that it reached the state it
    exists for (a regression that no longer gets there would pass without testing anything).
    """
    TRAIL.clear()
    machine = ControllerMachine()
    try:
        machine.check_all()
        for step in steps:
            step(machine)
            machine.check_all()
    finally:
        machine.teardown()
    return Replay(list(TRAIL), machine)


def test_regression_a_recovered_create_that_never_got_in_frees_the_thread() -> None:
    """Found by the machine: the create failed (500, not applied) and the process died in its
    backoff; recover() found no run (``not_created``), yet the thread stayed marked busy, so
    the next run() was refused with ThreadBusy although nothing was active."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.http_fault(kind="create_500", retry_after_ms=0),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.02),
        lambda m: m.crash(),
        lambda m: m.restart(crash_at=None),
        lambda m: m.step(sleeps=20),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.02),
        lambda m: m.step(sleeps=20),
    )
    assert replay.faulted("POST", "/runs") == 1  # the create failed (500, not applied)
    assert replay.before("run ended: CrashPoint", "outcome: not_created deadline=None")
    # ...and the next run() on the thread was not refused: it ran to its end
    assert replay.before("outcome: not_created deadline=None", "outcome: completed deadline=None")
    assert "second run refused" not in replay.trail


def test_regression_no_create_while_a_create_of_unknown_outcome_is_being_recovered() -> None:
    """Found by the machine: while recover() was still looking for the run of an unknown create
    (its intent unbound in the store), a second run() on the thread was not refused: it went
    on to create (I6). Now the store's unbound intent and the recovery both claim the thread."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.http_fault(kind="create_500", retry_after_ms=0),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.02),
        lambda m: m.crash(),
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.restart(crash_at=None),
        lambda m: m.second_run_on_the_busy_thread(),
        lambda m: m.step(sleeps=20),
    )
    assert replay.faulted("POST", "/runs") == 1
    assert replay.faulted("GET", "/runs") == 1  # recovery's first lookup failed
    # the second run() came while the recovery was still resolving the create: refused
    assert replay.before("second run refused", "recover ended: outcome")


def test_regression_a_stale_read_after_an_unknown_submit_is_not_taken_as_delivered() -> None:
    """Found by the machine: a submit answered 500 (not applied), then a stale read showed the
    run ``queued``; the status alone said "moved past requires_action", so the output was
    marked delivered and never sent again; a cancel later ended the run with the output lost
    (I2). The run step's ``function.output`` now decides."""
    replay = _replay(
        lambda m: m.setup(crash_at="after_create_sent"),
        lambda m: m.http_fault(kind="submit_500", retry_after_ms=0),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.restart(crash_at=None),
        lambda m: m.crash(),
        lambda m: m.restart(crash_at=None),
        lambda m: m.crash(),
        lambda m: m.restart(crash_at=None),
        lambda m: m.step(sleeps=1),
        lambda m: m.rewrite_next_read(kind="stale", status="queued", times=1),
        lambda m: m.foreign_cancel(),
        lambda m: m.step(sleeps=2),
    )
    assert replay.faulted("POST", "/submit_tool_outputs") == 1  # the unknown submit
    assert replay.rewrites >= 1  # the stale read was served
    assert "executed a tool" in replay.trail
    (outcome,) = replay.outcomes
    assert outcome.status == "cancelled"
    (call,) = outcome.tool_calls
    # I2 (checked against the server by the machine): a reason for an undelivered output
    assert call.state == "delivered" or outcome.ledger.entries[call.id].reason


def test_regression_stale_reads_after_a_restart_before_submit() -> None:
    """Found by the machine: crash before submit; on restart stale reads and a foreign cancel
    hid whether the recorded output had got in (I2: reported delivered, never submitted)."""
    replay = _replay(
        lambda m: m.setup(crash_at="before_submit"),
        lambda m: m.server_moves(seconds=0.02),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.step(sleeps=20),
        lambda m: m.server_moves(seconds=10.0),
        lambda m: m.rewrite_next_read(kind="stale", status="queued", times=1),
        lambda m: m.rewrite_next_read(kind="stale", status="in_progress", times=2),
        lambda m: m.restart(crash_at=None),
        lambda m: m.second_run_on_the_busy_thread(),
        lambda m: m.foreign_cancel(),
        lambda m: m.rewrite_next_read(kind="stale", status="in_progress", times=2),
        lambda m: m.step(sleeps=2),
        lambda m: m.rewrite_next_read(kind="stale", status="queued", times=1),
        lambda m: m.server_moves(seconds=10.0),
        lambda m: m.step(sleeps=20),
    )
    assert replay.before("run ended: CrashPoint", "second run refused")
    assert replay.rewrites >= 3  # stale reads were served around the restart
    assert "executed a tool" in replay.trail
    assert replay.outcomes[-1].status == "cancelled"


def test_regression_a_lost_submit_seen_through_a_stale_read_is_recorded_delivered() -> None:
    """Found by the machine (against a version of this change that already settled every open
    call at the end, before the run steps decided delivery): after a restart the recorded
    output was submitted, the response was lost (applied), and the re-read was a stale
    ``requires_action``; the output was reported undelivered although the server had it (I2)."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.crash(),
        lambda m: m.rewrite_next_read(kind="unknown", status="queued", times=1),
        lambda m: m.http_fault(kind="submit_lost", retry_after_ms=0),
        lambda m: m.http_fault(kind="get_500", retry_after_ms=0),
        lambda m: m.rewrite_next_read(kind="stale", status="requires_action", times=1),
        lambda m: m.server_moves(seconds=0.02),
        lambda m: m.restart(crash_at=None),
        lambda m: m.step(sleeps=20),
    )
    assert replay.faulted("POST", "/submit_tool_outputs") == 1  # applied, answer lost
    assert replay.rewrites >= 1
    (outcome,) = replay.outcomes
    assert [t.state for t in outcome.tool_calls] == ["delivered"]


def test_regression_reads_failing_past_the_retry_budget_do_not_crash_the_drive() -> None:
    """Found by the machine: four failed reads in a row (two armed, two more while the
    controller backed off) exhausted one poll's retries and run() raised (I7). A failed poll is
    now a lost observation; the drive polls on within its deadlines."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.5, rounds=[], work=0.02),
        lambda m: m.http_fault(kind="get_500", retry_after_ms=0),
        lambda m: m.http_fault(kind="get_500", retry_after_ms=0),
        lambda m: m.step(sleeps=2),
        lambda m: m.http_fault(kind="get_drop", retry_after_ms=0),
        lambda m: m.http_fault(kind="get_500", retry_after_ms=0),
        lambda m: m.step(sleeps=20),
    )
    failed_reads = sum(
        1
        for r in replay.requests
        if r.method == "GET" and r.fault is not None and "/runs/" in r.path
    )
    assert failed_reads == 4  # all four armed failures hit reads of the run
    (outcome,) = replay.outcomes
    assert outcome.status == "completed"


def test_regression_a_create_recover_cannot_look_up_stays_open() -> None:
    """Found by the machine (in CI): recover() looked up a create of unknown outcome, the run
    list failed past its retries (the overall deadline had passed while the process was down),
    and recover() raised the 500, which loses the outcomes of every other item it recovers.
    Now that create ends ``outcome_unknown``, its intent stays open, and the thread stays
    claimed (a new run() is refused without a create)."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.http_fault(kind="get_500", retry_after_ms=0),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.crash(),
        lambda m: m.restart(crash_at=None),
        lambda m: m.second_run_on_the_busy_thread(),
        lambda m: m.step(sleeps=2),
        *[lambda m: m.server_moves(seconds=0.02)] * 8,
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.crash(),
        lambda m: m.restart(crash_at=None),
        lambda m: m.server_moves(seconds=700.0),
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.step(sleeps=1),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.02),
    )
    assert replay.faulted("GET", "/runs") >= 2  # the run list failed for good
    kinds = [o.ending.kind for o in replay.outcomes]
    assert EndingKind.OUTCOME_UNKNOWN in kinds
    assert "run ended: ThreadBusy" in replay.trail  # the claim held


def test_regression_a_lost_create_outlasts_a_run_list_failing_past_its_retries() -> None:
    """Found by the machine: a create's answer was lost and the run list then failed four
    times in a row (past one lookup's retries); run() raised the 500 a second into a 40 s
    deadline, and the intent was closed as if no run existed (the run did: the create got in).
    Now a failing lookup is waited out like a failed poll: the run is found and followed."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.server_moves(seconds=700.0),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.1, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.crash(),
        lambda m: m.restart(crash_at=None),
        lambda m: m.crash(),
        lambda m: m.http_fault(kind="create_lost", retry_after_ms=0),
        lambda m: m.restart(crash_at=None),
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.server_moves(seconds=700.0),
        lambda m: m.step(sleeps=1),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.5),
        lambda m: m.server_moves(seconds=1.0),
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.step(sleeps=1),
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.http_fault(kind="list_500", retry_after_ms=0),
        lambda m: m.step(sleeps=20),
    )
    assert replay.faulted("POST", "/runs") == 1  # the create got in; its answer was lost
    assert replay.faulted("GET", "/runs") == 4
    assert replay.outcomes[-1].status == "completed"
