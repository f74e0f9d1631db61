"""A Hypothesis state machine over the real Responses chain controller: simulator, HTTP, store,
crashes.

The twin of ``test_stateful_controller.py`` for :class:`adapters.openai.ResponseController`
(sync): the real ``openai`` client over loopback HTTP to the simulator's ``/v1/responses``, a
durable :class:`adapters.store.RunStore`, and Hypothesis interleaving, between any two of the
controller's sleeps:

* server moves (simulated time passes: the chain's scenario plays on; short steps, long jumps),
* HTTP faults on the Responses endpoints: a 500, a 429 with ``retry-after-ms`` and a dropped
  connection on reads; a 500, a 429 and an applied create whose answer is lost on the next
  ``POST /responses`` (a chain's first response or its next one, carrying tool outputs, which
  ever comes first); a cancel applied whose answer is lost,
* model tool calls drawn per chain: valid, invalid JSON arguments, wrong argument types, an
  unknown tool name, a tool that raises,
* crashes: the process dies while asleep, or at a named crash point armed for the process; the
  restart opens the store again and calls ``recover()``,
* cancels: the user's (a ``CancelToken``) and a foreign one (another client cancels the live
  response).

How it steps: as in the Assistants machine (the same :class:`Gate`): the controller runs in a
worker thread whose ``sleep`` parks it; each rule runs while it is parked, and ``step`` lets it
go until its next sleep or its end. A controller sleep moves the simulated clock.

What must hold (the failure catalogue's I1-I9, for chains), after every step:

* I1: a tool runs at most once per call (counted by the tool double; ``started`` at most once in
  the store);
* I3: an output is sent in at most one create (every ``/v1/responses`` body, as it arrived on the
  wire, is kept by :class:`~tests.faults.chain_harness.BodyLog`; a 429 was refused, not applied,
  and is the one answer after which a create may go again); a response is answered at most once
  (no fork); a chain's first create is sent at most once (a lost create is never resent); the
  server refused none of our creates (400);
* I5: every journal, stored or returned, is a path through ``RESPONSE_CHAIN``;
* I8: no API key in the logs or the store's files;
* I9: a bounded number of requests between two sleeps;

and when a drive ends: I2 (every output delivered once, or undelivered with a reason, or its
effect held unknown), I4 (an ending with a machine-readable reason; a drive past its deadlines
ends within a few steps), I7 (nothing escapes but what the docs name: ``run()`` raises the SDK
error of a first create that failed for good or lost its answer, and then nothing was created
behind the store's back: a create that reached the server keeps its intent open), I8 in the
outcomes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import tempfile
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
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
    AsyncResponseController,
    CancelToken,
    ControllerConfig,
    CrashPoint,
    ResponseController,
    ResponseOutcome,
    RetryPolicy,
)
from adapters.openai._errors import CRASH_POINTS
from adapters.simulator import (
    CancelBehaviour,
    Fault,
    Scenario,
)
from adapters.simulator._records import ApiError
from adapters.store import EffectPhase, RunStore
from lifecycle import RESPONSE_CHAIN, CallState, ToolRegistry
from lifecycle.kernel import CallFailed, EndingKind
from tests.faults.chain_harness import (
    RESPONSES,
    ChainWorld,
    Rewrite,
    Sent,
    chain_is_continuous,
)
from tests.faults.harness import SECRET_KEY, Effects
from tests.faults.test_stateful_controller import Gate, MachineParts, _Capture

SPEC = RESPONSE_CHAIN
POLL_S = 0.05  # the simulator's openai-poll-after-ms, in seconds
OVERALL_S = 40.0
STATE_DEADLINE_S = 30.0
CANCEL_DEADLINE_S = 0.3
MAX_ATTEMPTS = 4
RETRY_CAP_S = 0.5
#: the most requests one release may make before it sleeps again (I9: no busy loop)
MAX_REQUESTS_PER_STEP = 16
#: releases allowed after the overall deadline has passed (I4): a cancel with its retries, then
#: polls until the cancel shows, within the cancelling deadline
MAX_OVERDUE_STEPS = 4 + 2 * MAX_ATTEMPTS + int(CANCEL_DEADLINE_S / POLL_S) + 2
#: crashes per example (a process that dies at every other step never gets anything done)
MAX_CRASHES = 2

HTTP_FAULTS = (
    *("get_500", "get_429", "get_drop"),
    *("create_500", "create_429", "create_lost", "cancel_lost"),
)
#: faults on the create of a chain's *next* response (the one carrying tool outputs), armed only
#: while the drive is past its first create: then the next ``POST /responses`` is a next one
NEXT_CREATE_FAULTS = (
    *("next_create_lost", "next_create_500", "next_create_applied_500", "next_create_429"),
)
#: wire rewrites of ``/v1/responses`` reads (see :class:`~tests.faults.chain_harness.Rewrite`)
REWRITES = ("stale", "unknown_status", "misrouted", "lost_calls")
#: the simulator profile of the machine (the session's ``--sim-profile``; replays: reference)
PROFILE = {"name": "reference"}

_SETTLED = {CallState.DELIVERED, CallState.EXECUTED_UNDELIVERED, CallState.UNDELIVERED}

# -- what the model asks for ----------------------------------------------------------------

CALL_KINDS = st.sampled_from(["charge"] * 5 + ["bad_json", "wrong_type", "unknown", "boom"])
FINALS = st.sampled_from(["answer"] * 3 + ["fail", "incomplete", "hang"])
CANCELS = st.sampled_from(["confirm"] * 3 + ["lost_race"])
ROUNDS = st.lists(st.lists(CALL_KINDS, min_size=1, max_size=3), min_size=1, max_size=2)
DURATIONS = st.sampled_from([0.02, 0.02, 0.1, 0.5, 2.0])
JUMPS = st.sampled_from([0.02, 0.1, 1.0, 10.0, 45.0, 700.0])
CRASHES = st.one_of(st.none(), st.none(), st.none(), st.sampled_from(sorted(CRASH_POINTS)))


def _cancel(kind: str) -> CancelBehaviour:
    if kind == "lost_race":  # cancelled at once, then completed anyway a step later
        return CancelBehaviour(outcome="completed")
    return CancelBehaviour()


class Job:
    """One drive: ``run()`` of a new chain, or ``recover()`` after a restart."""

    def __init__(self, kind: str, started: float, logged: int) -> None:
        self.kind = kind
        self.started = started  # simulated time at launch
        self.logged = logged  # index into the body log at launch
        self.overdue_steps = 0
        self.tried: set[str] = set()  # once-per-drive rules already applied


class ChainMachine(MachineParts, RuleBasedStateMachine):
    """The server (simulator), the wire (faults), one process at a time, and a store."""

    def __init__(self) -> None:
        super().__init__()
        # a fresh simulator per example: the clock and ids must replay exactly
        self.world = ChainWorld(
            poll_after_ms=int(POLL_S * 1000), profile=PROFILE["name"]
        ).__enter__()
        self.tmp = Path(tempfile.mkdtemp(prefix="lifecycle-stateful-chains-"))
        self.effects = Effects()
        self.tools = self._registry()
        self.n = 0
        self.crashed = False
        self.store: RunStore | None = None
        self.controller: ResponseController | None = None
        self.settings: dict[str, Any] = {}  # the process's controller settings
        self.gate = Gate(self.world.clock.advance)
        self.job: Job | None = None
        self.token: CancelToken | None = None
        self.faults: list[Fault] = []
        self.kinds: dict[int, str] = {}  # what each armed fault is (by id)
        self._logged = 0  # body log entries already counted
        self._rewritten = 0  # wire rewrites already counted
        self.capture = _Capture()
        self._count_before = 0
        self.outcomes: list[ResponseOutcome] = []
        self.crashes = 0
        self._executed = 0
        #: the deadline of ``cancelled`` (``None``: the library's default, the overall one)
        self.cancel_deadline: float | None = CANCEL_DEADLINE_S

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
        self.store = RunStore(self.tmp / "chains.db", clock=w.clock)
        self.gate = Gate(w.clock.advance)
        config = ControllerConfig(
            poll_interval_s=POLL_S,
            request_timeout_s=5.0,
            overall_timeout_s=OVERALL_S,
            # "cancelled" bounds the wait for a cancel to show (a chain's cancel goes straight
            # to cancelled); without it that wait is the overall deadline, and the machine's
            # bound on steps past the deadline (I4) would have to be hundreds of polls
            deadlines={
                "queued": STATE_DEADLINE_S,
                "in_progress": STATE_DEADLINE_S,
                **({} if self.cancel_deadline is None else {"cancelled": self.cancel_deadline}),
            },
            retry=RetryPolicy(max_attempts=MAX_ATTEMPTS, base_s=0.05, cap_s=RETRY_CAP_S),
            tool_timeout_s=2.0,
        )
        self.settings = {
            "tools": self.tools,
            "config": config,
            "clock": w.clock,
            "wall_clock": w.clock,
            "store": self.store,
            "crash_at": crash_at,
        }
        self.controller = ResponseController(
            w.api, sleep=self.gate.sleep, rng=random.Random(self.n), **self.settings
        )
        self.crashed = False

    def _drive(self, method: str, **kw: Any) -> Callable[[], Any]:
        """The job of a drive: the process's controller's ``run`` or ``recover``."""
        controller = self.controller
        assert controller is not None
        return lambda: getattr(controller, method)(**kw)

    def _launch(self, kind: str, job: Callable[[], Any]) -> None:
        w = self.world
        self.job = Job(kind, w.clock(), len(w.log.snapshot()))
        self._count_before = len(w.sim.requests)
        self.gate.launch(job)
        self._after_release()

    @initialize(crash_at=CRASHES)
    def setup(self, crash_at: str | None) -> None:
        """A first process (which may die at ``crash_at``)."""
        logging.getLogger().addHandler(self.capture)
        logging.getLogger("adapters").setLevel(logging.DEBUG)
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
        """The user starts a chain; the model's tool calls and ending are drawn for it."""
        steps = self._steps(rounds, first, work, final)
        self.n += 1
        name = f"ch-{id(self)}-{self.n}"
        self._disarm_next_create_faults()
        self.world.sim.add_scenario(name, Scenario(tuple(steps), cancel=_cancel(cancel)))
        self.token = CancelToken()
        self._launch(
            "run",
            self._drive(
                "run",
                model="sim-model",
                input="What does my order cost?",
                metadata={"scenario": name},
                cancel_token=self.token,
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
            if self.world.clock() > job.started + OVERALL_S + RETRY_CAP_S:
                job.overdue_steps += 1
                assert job.overdue_steps <= MAX_OVERDUE_STEPS, "I4: still running past deadline"
            self.gate.release()
            self._after_release()

    @precondition(lambda self: self._once("cancel"))
    @rule(who=st.sampled_from(["user", "foreign"]))
    def cancel(self, who: str) -> None:
        """Once per drive, the user (``who``) or another client cancels: the one drawn, or the
        other one when it cannot (no token: a recovery; no live response)."""
        assert self.job is not None
        self.job.tried.add("cancel")
        if (who == "user" or self._live() is None) and self.token is not None:
            self.user_cancels()
        elif self._live() is not None:
            self.foreign_cancel()

    def user_cancels(self) -> None:
        """The user asks for the chain to be cancelled."""
        assert self.token is not None
        self.token.cancel()
        _event("user cancelled")

    def foreign_cancel(self) -> None:
        """Someone else (another client) cancels the live response of the chain."""
        response_id = self._live()
        assert response_id is not None
        sim = self.world.sim
        with sim.engine.lock, contextlib.suppress(ApiError):  # it ended meanwhile
            sim.responses.cancel(response_id)
        _event("foreign cancel")

    # -- the server and the wire -------------------------------------------------------------

    @rule(seconds=JUMPS)
    def server_moves(self, seconds: float) -> None:
        """Simulated time passes while the controller sleeps: the server plays on (observations
        in between are dropped)."""
        self.world.clock.advance(seconds)

    @precondition(lambda self: self._pending_faults() < MAX_ATTEMPTS - 2)
    @rule(kind=st.sampled_from(HTTP_FAULTS), retry_after_ms=st.sampled_from([0, 30, 1500]))
    def http_fault(self, kind: str, retry_after_ms: int) -> None:
        """The next matching request fails (once)."""
        one = RESPONSES + "/*"
        wait = {"retry-after-ms": str(retry_after_ms)}
        fault = {
            "get_500": Fault(method="GET", path=one, status=500),
            "get_429": Fault(method="GET", path=one, status=429, headers=wait),
            "get_drop": Fault(method="GET", path=one, drop="before_response"),
            "create_500": Fault(method="POST", path=RESPONSES, status=500),
            "create_429": Fault(method="POST", path=RESPONSES, status=429, headers=wait),
            "create_lost": Fault(method="POST", path=RESPONSES, applied_then_fail="drop"),
            "cancel_lost": Fault(method="POST", path=one + "/cancel", applied_then_fail="drop"),
        }[kind]
        self.faults.append(self.world.sim.faults.add(fault))
        self.kinds[id(fault)] = kind

    @precondition(lambda self: self._pending_next_faults() < 2 and self._next_create_ahead())
    @rule(kind=st.sampled_from(NEXT_CREATE_FAULTS), retry_after_ms=st.sampled_from([0, 30, 1500]))
    def next_create_fault(self, kind: str, retry_after_ms: int) -> None:
        """The create of the chain's next response (the one carrying tool outputs) fails: its
        answer is lost (applied, the connection dropped), a 500 (not applied), applied then a
        500, or a 429. Armed only while the drive is past its first create, so the next
        ``POST /responses`` it makes is a next one (unfired ones are disarmed when a new chain
        starts): the simulator's fault layer matches a method and a path glob, which a first
        and a next create share, and counts (``nth``) every create of the world."""
        wait = {"retry-after-ms": str(retry_after_ms)}
        fault = {
            "next_create_lost": Fault(method="POST", path=RESPONSES, applied_then_fail="drop"),
            "next_create_500": Fault(method="POST", path=RESPONSES, status=500),
            "next_create_applied_500": Fault(
                method="POST", path=RESPONSES, status=500, applied_then_fail="status"
            ),
            "next_create_429": Fault(method="POST", path=RESPONSES, status=429, headers=wait),
        }[kind]
        self.faults.append(self.world.sim.faults.add(fault))
        self.kinds[id(fault)] = kind

    @precondition(lambda self: self.job is not None and len(self.world.rewriter.pending()) < 2)
    @rule(kind=st.sampled_from(REWRITES))
    def wire_rewrite(self, kind: str) -> None:
        """The next read that allows it is rewritten on the wire: an older status of the same
        response again (stale), a status no API version has, another response's body
        (misrouted), a completed response whose ``output`` lost its ``function_call`` items."""
        self.world.rewriter.add(Rewrite(kind))  # type: ignore[arg-type]

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
        self.token = None
        self._launch("recover", self._drive("recover"))

    # -- after a release: a drive may have ended -------------------------------------------------

    def _after_release(self) -> None:
        made = self.world.sim.requests[self._count_before :]
        assert len(made) <= MAX_REQUESTS_PER_STEP, (
            f"I9: {len(made)} requests without a sleep in between"
        )
        sent = self.world.log.snapshot()
        new = sent[self._logged :]
        for r in made:
            if r.fault is not None:
                kind = self.kinds[id(r.fault)]
                _event(f"fault fired: {kind}")
                if kind.startswith("next_"):  # the model's own check: it hit a next create
                    assert any(s.is_create and s.previous for s in new), f"{kind} on a first"
        for s in new:
            if s.is_create:
                _event(f"{'next' if s.previous else 'first'} create answered {s.status}")
        self._logged = len(sent)
        applied = self.world.rewriter.applied
        for kind, _rid, real, status in applied[self._rewritten :]:
            _event(f"rewrite fired: {kind}")
            _event(f"rewrite fired: {kind} of {real} as {status}")
        self._rewritten = len(applied)
        if not self.gate.running:
            self._job_ended()

    def _job_ended(self) -> None:
        job, error, result = self.job, self.gate.error, self.gate.result
        assert job is not None
        self.job = None
        self.token = None
        _event(f"{job.kind} ended: {type(error).__name__ if error else 'outcome'}")
        if isinstance(error, CrashPoint):
            self.crashed = True
            return
        sent = self.world.log.snapshot()[job.logged :]
        if job.kind == "run" and isinstance(error, openai.APIError | CallFailed):
            self._check_failed_create(error, sent, job)
            return
        if error is not None:  # I7: nothing else may escape the controller
            text = "".join(traceback.format_exception(error))
            raise AssertionError(f"I7: the controller raised\n{text}")
        outcomes = [result] if job.kind == "run" else list(result)
        for outcome in outcomes:
            assert isinstance(outcome, ResponseOutcome)
            ending = outcome.ending
            label = ending.kind.value
            if ending.kind is EndingKind.TERMINAL:
                label += f" {outcome.status}"
            elif ending.kind is EndingKind.OUTCOME_UNKNOWN:
                label += f" {ending.detail}"
            _event(f"{job.kind} outcome: {label}")
            self.outcomes.append(outcome)
            self._check_outcome(outcome)

    def _check_failed_create(self, error: BaseException, sent: list[Sent], job: Job) -> None:
        """I7: ``run()`` raised: only for its first create, which failed for good or lost its
        answer; a create that may have got in keeps its intent open (nothing created behind the
        store's back), and it was never sent twice."""
        creates = [s for s in sent if s.is_create]
        assert creates, f"I7: run() raised without a create: {error!r}"
        assert not any(s.previous for s in creates), (
            f"I7: run() raised after its chain had a response: {error!r}"
        )
        (op_id,) = {s.op_id for s in creates}
        assert op_id is not None
        tried = [s for s in creates if not s.refused]
        assert len(tried) <= 1, f"I3: the first create was sent {len(tried)} times"
        assert self.store is not None
        intents = {i.op_id for i in self.store.unbound_creates()}
        if tried:
            _event("run raised: first create " + ("applied" if tried[0].status else "dropped"))
            # the create may have got in (it did, when the server holds a response carrying
            # the op id): its intent stays open, and recover() reports it
            assert op_id in intents, f"I7: the create's intent was closed ({error!r})"
        else:
            # every try was refused (429, not applied): the retry policy bounds a request's
            # attempts, and the overall deadline bounds their waits; nothing was created
            _event("run raised: its create refused (429) past its retries")
            refused = [s for s in creates if s.refused]
            overdue = self.world.clock() > job.started + OVERALL_S
            assert len(refused) >= MAX_ATTEMPTS or overdue, f"I7: {error!r}"
            assert isinstance(error, openai.RateLimitError) or overdue, f"I7: {error!r}"
            assert not self.world.responses_of(op_id), "I7: a refused create made a response"
        if self.world.responses_of(op_id):
            assert op_id in intents, "I7: a response exists and its create intent is closed"

    def _check_outcome(self, out: ResponseOutcome) -> None:
        tag = repr(out)
        ending = out.ending
        # I4: an ending with a machine-readable reason
        assert isinstance(ending.kind, EndingKind)
        if ending.kind is EndingKind.TERMINAL:
            assert out.status in SPEC.terminal_values, f"I4: terminal but {out.status!r}: {tag}"
        elif ending.kind in (EndingKind.DEADLINE, EndingKind.CANCEL_UNCONFIRMED):
            assert ending.deadline, f"I4: {ending.kind.value} without its deadline: {tag}"
        elif ending.kind is EndingKind.OUTCOME_UNKNOWN:
            assert ending.detail in ("create", "submit"), f"I4: {tag}"
        elif ending.kind is EndingKind.HELD:
            assert ending.detail or out.unknown_effects, f"I4: held without its calls: {tag}"
        else:
            assert ending.kind is not EndingKind.INTERRUPTED, f"I4: nothing interrupted: {tag}"
        # I2: every call settled: delivered once, or undelivered with a reason, or held unknown
        sent = self.world.outputs_sent()
        for entry in out.ledger.entries.values():
            cid = entry.tool_call_id
            if cid in out.unknown_effects:
                continue
            assert entry.state in _SETTLED, f"I2: {cid} left {entry.state} in {tag}"
            if entry.state is CallState.DELIVERED:
                assert sent[cid] == 1, f"I2: {cid} delivered, sent {sent[cid]} times"
                assert any(
                    cid in {o.tool_call_id for o in e.outputs}
                    for e in self.world.sim.response_chain(out.response_id)
                ), f"I2: {cid} reported delivered; no response of the chain has it"
            else:
                assert entry.reason, f"I2: {cid} {entry.state} without a reason"
                if ending.kind is EndingKind.TERMINAL:
                    # it may have been sent in a create the server refused (a 500 not applied):
                    # what matters is that no response of the chain carries it
                    assert not any(
                        cid in {o.tool_call_id for o in e.outputs}
                        for e in self.world.sim.response_chain(out.response_id)
                    ), f"I2: {cid} got in but is reported {entry.state}"
        # I5: the journal is a path through the table
        assert chain_is_continuous(out.history), f"I5: journal gap in {tag}"
        # I8: no key in reprs or outcome texts
        for text in (repr(out), str(out.anomalies), str(out.tool_calls), out.output_text):
            assert SECRET_KEY not in text, "I8: key in an outcome"

    # -- invariants, after every step --------------------------------------------------------

    @invariant()
    def check_all(self) -> None:
        """I1, I3, I5, I8 and I9 hold now (I2, I4 and I7 are checked when a drive ends)."""
        w = self.world
        # I1: at most one execution per call, across retries, lost answers and restarts (the
        # simulator may ask again for the same order under a new call id: a cancel that lost
        # the race replays its round in the next response; that is another call)
        issued = w.calls_by_order()
        over = {k: n for k, n in self.effects.count.items() if n > issued[k]}
        assert not over, f"I1: executions {over} for calls {dict(issued)}"
        if any(n > 1 for n in issued.values()):
            _event("a call asked again under a new id")
        if self.effects.total > self._executed:
            self._executed = self.effects.total
            _event("executed a tool")
        if self.store is not None and not self.crashed:
            started = Counter(
                e.tool_call_id for e in self.store.effects() if e.phase is EffectPhase.STARTED
            )
            assert max(started.values(), default=0) <= 1, f"I1: started twice {started}"
            # I5: each persisted journal is a chain of table edges
            for stored in self.store.runs():
                assert chain_is_continuous(stored.snapshot.journal), "I5: stored journal gap"
        # I3: an output in at most one create; one answer per response; a first create once
        twice = {c: n for c, n in w.outputs_sent().items() if n > 1}
        assert not twice, f"I3: outputs sent in more than one create: {twice}"
        forks = {r: n for r, n in w.answers_sent().items() if n > 1}
        assert not forks, f"I3: a response answered more than once: {forks}"
        again = {o: n for o, n in w.first_creates_sent().items() if n > 1}
        assert not again, f"I3: a first create sent again: {again}"
        refused = [s for s in w.creates() if s.status == 400]
        assert not refused, f"I3: the server refused a create: {[s.error for s in refused]}"
        # I8: no key in logs or in the store's files
        assert not any(SECRET_KEY in t for t in self.capture.texts), "I8: key in the logs"
        for f in self.tmp.glob("chains.db*"):
            assert SECRET_KEY.encode() not in f.read_bytes(), f"I8: key in {f.name}"
        # I4: a drive past its overall deadline ends within a few steps
        if self.job is not None:
            assert self.job.overdue_steps <= MAX_OVERDUE_STEPS, "I4: still running past deadline"

    # -- helpers -----------------------------------------------------------------------------

    def _live(self) -> str | None:
        live = self.world.live_responses()
        return live[-1] if live else None

    def _once(self, name: str) -> bool:
        """A drive is parked and the once-per-drive rule ``name`` was not applied to it yet."""
        job = self.job
        return job is not None and self.gate.parked is not None and name not in job.tried

    def _pending_faults(self) -> int:
        return sum(1 for f in self.faults if self.world.sim.faults.fired(f) == 0)

    def _pending_next_faults(self) -> int:
        return sum(
            1
            for f in self.faults
            if self.kinds[id(f)].startswith("next_") and self.world.sim.faults.fired(f) == 0
        )

    def _next_create_ahead(self) -> bool:
        """A drive is parked past its first create (a recovery, which never creates a first
        response, or a run whose first create was answered 200), and its chain has a next
        create ahead (a response completed with calls and waits for its client, or a live one
        will)."""
        job = self.job
        if job is None or self.gate.parked is None:
            return False
        if job.kind == "recover":
            return self.world.next_create_ahead()
        sent = self.world.log.snapshot()[job.logged :]
        first = [s for s in sent if s.is_create and s.status == 200]
        return bool(first) and self.world.next_create_ahead(first[0].op_id)

    def _disarm_next_create_faults(self) -> None:
        """Next-create faults that did not fire are disarmed (a new chain's first create would
        take them)."""
        sim = self.world.sim
        for f in [f for f in self.faults if self.kinds[id(f)].startswith("next_")]:
            if sim.faults.fired(f) == 0:
                sim.faults.remove(f)
                self.faults.remove(f)


class AsyncChainMachine(ChainMachine):
    """The same machine over :class:`AsyncResponseController` (the async SDK client over the
    same loopback HTTP, no keep-alive). Each drive runs its own event loop on the worker thread
    (``anyio.run``) with a controller of the process's settings (the crash point armed for the
    process included: one that did not fire is still armed for the next drive); the async
    ``sleep`` parks the worker in the same :class:`Gate`."""

    def _drive(self, method: str, **kw: Any) -> Callable[[], Any]:
        settings_, gate, rng = dict(self.settings), self.gate, random.Random(self.n)
        url = self.world.server.base_url

        async def sleep(seconds: float) -> None:
            gate.sleep(seconds)
            await anyio.sleep(0)

        async def main() -> Any:
            http = openai.DefaultAsyncHttpxClient(limits=httpx2.Limits(max_keepalive_connections=0))
            async with openai.AsyncOpenAI(
                base_url=url, api_key=SECRET_KEY, max_retries=0, timeout=10.0, http_client=http
            ) as client:
                controller = AsyncResponseController(client, sleep=sleep, rng=rng, **settings_)
                return await getattr(controller, method)(**kw)

        return lambda: anyio.run(main)


#: what the machine exercised, over every example of a test (see the test's coverage check)
SEEN: Counter[str] = Counter()
#: the events of the current replayed sequence, in order (see ``_replay``)
TRAIL: list[str] = []


def _event(text: str) -> None:
    """Count ``text`` (and in Hypothesis's statistics, when inside a Hypothesis test), and keep
    it in :data:`TRAIL` (what a replayed sequence went through)."""
    SEEN[text] += 1
    TRAIL.append(text)
    with contextlib.suppress(InvalidArgument):
        event(text)


def _run_machine(machine: type[ChainMachine], sim_profile: str, examples: int) -> None:
    """Run ``machine`` as a Hypothesis test against the ``sim_profile`` simulator, counting what
    it went through in :data:`SEEN`."""
    SEEN.clear()
    PROFILE["name"] = sim_profile
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                settings.default,
                # each example drives real HTTP: the ci profile's 400 would take minutes
                max_examples=min(settings.default.max_examples, examples),
                # outside CI the examples are fixed, so the coverage checks cannot fail by the
                # luck of a seed; CI (the ci profile) draws new ones on every run
                derandomize=os.environ.get("HYPOTHESIS_PROFILE") != "ci",
                stateful_step_count=50,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        PROFILE["name"] = "reference"
    print(f"\n{machine.__name__}:", dict(sorted(SEEN.items())))


def _draws_cover(sim_profile: str) -> bool:
    """Whether the coverage checks apply: on the reference server. On another server profile
    the draws reach some paths (a tool round, a next create) too rarely to be sure of them in
    one run, although every invariant was still checked on each example."""
    return sim_profile == "reference"


@pytest.mark.slow
def test_the_chain_controller_keeps_every_invariant_under_interleaved_faults(
    sim_profile: str,
) -> None:
    """Hypothesis interleaves server moves, wire faults and rewrites, tool calls, crashes and
    cancels with the real chain controller's steps; the chain forms of I1-I9 hold after every
    step."""
    _run_machine(ChainMachine, sim_profile, 200)
    if not _draws_cover(sim_profile):
        return
    # the machine really went where it should: not a vacuous pass
    assert SEEN["run outcome: terminal completed"] > 0
    assert SEEN["run ended: CrashPoint"] > 0
    assert SEEN["recover ended: outcome"] > 0
    assert SEEN["recover outcome: outcome_unknown create"] > 0
    assert SEEN["run raised: first create applied"] > 0
    assert SEEN["run raised: first create dropped"] > 0
    assert any(k.startswith("executed") for k in SEEN)
    # a next create whose answer was lost or a 5xx (the ``next_create_*`` faults)
    assert SEEN["run outcome: outcome_unknown submit"] > 0
    assert any(k.startswith("fault fired: next_create") for k in SEEN)
    for kind in ("stale", "unknown_status", "misrouted"):
        assert SEEN[f"rewrite fired: {kind}"] > 0, kind


@pytest.mark.slow
def test_the_async_chain_controller_keeps_every_invariant_under_interleaved_faults(
    sim_profile: str,
) -> None:
    """The same machine over ``AsyncResponseController`` (fewer examples: the sync machine
    covers the kernel they share; this one covers the async pump and client)."""
    _run_machine(AsyncChainMachine, sim_profile, 60)
    assert SEEN["run outcome: terminal completed"] > 0
    assert SEEN["run ended: CrashPoint"] > 0
    assert SEEN["recover ended: outcome"] > 0
    assert any(k.startswith("executed") for k in SEEN)


# -- shrunk counterexamples, kept as regression tests ------------------------------------------


class Replay:
    """What a replayed sequence went through: its events in order, the requests the simulator
    saw, what was sent to ``/v1/responses`` and the outcomes the drives ended with."""

    def __init__(self, trail: list[str], machine: ChainMachine) -> None:
        self.trail = trail
        self.requests = machine.world.sim.requests
        self.sent = machine.world.log.snapshot()
        self.outcomes = list(machine.outcomes)
        self.sleeps = machine.gate.sleeps

    def before(self, first: str, then: str) -> bool:
        """Whether the event ``first`` happened, and ``then`` after it."""
        return first in self.trail and then in self.trail[self.trail.index(first) + 1 :]


def _replay(*steps: Callable[[ChainMachine], object]) -> Replay:
    """Run the steps on a fresh machine, checking the invariants after each, then tear down.

    Returns what the sequence went through, for the test to assert that it reached the state it
    exists for (a regression that no longer gets there would pass without testing anything).
    """
    TRAIL.clear()
    machine = ChainMachine()
    try:
        machine.check_all()
        for step in steps:
            step(machine)
            machine.check_all()
    finally:
        machine.teardown()
    return Replay(list(TRAIL), machine)


def test_regression_a_deadline_cancel_that_finds_the_chain_awaiting_its_client_ends_it() -> None:
    """Found by the machine: the first response completed with a function call while the
    controller slept past its ``queued`` deadline; its read failed (500), the retry's wait hit
    the deadline, and the cancel's answer was the completed response (the cancel lost the race:
    the chain now waits for its client, and nothing runs on the server). The drive did not end
    there: it read that finished response every poll interval until the cancelling deadline
    (for a chain the overall deadline, unless ``deadlines["cancelled"]`` is set: 800 reads
    here) and ended ``cancel_unconfirmed``. Ending a chain that waits for its client is the
    controller's alone (``send_cancel`` does so when it knows before sending): it should end at
    the cancel's answer, ``deadline``, the call unanswered, with no further read."""

    def library_defaults(m: ChainMachine) -> None:
        m.cancel_deadline = None  # no deadline of its own for "cancelled"
        m.setup(crash_at=None)

    replay = _replay(
        library_defaults,
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.http_fault(kind="get_500", retry_after_ms=0),
        lambda m: m.server_moves(seconds=45.0),
        lambda m: m.step(sleeps=5),
    )
    assert "fault fired: get_500" in replay.trail
    cancels = [i for i, s in enumerate(replay.sent) if s.path.endswith("/cancel")]
    assert cancels, "the deadline's cancel was sent"
    (outcome,) = replay.outcomes
    reads_after = [s for s in replay.sent[cancels[0] + 1 :] if s.method == "GET"]
    assert len(reads_after) <= 1, f"{len(reads_after)} reads of a finished response"
    assert outcome.ending.kind is EndingKind.DEADLINE, str(outcome.ending)


def test_regression_recover_takes_a_stale_read_of_the_answered_response_as_delivery() -> None:
    """Found by the machine: a chain's next create (the call's output) was answered 500 (not
    applied): the run ended ``outcome_unknown submit``, the call executed, its delivery unknown.
    A later process's ``recover()`` read the response that asked for the call, and the read was
    stale (its ``queued`` body again). Resuming the recorded round, the kernel judged whether
    the outputs got in by that response's status (``reconcile_submit``: the Responses binding
    cannot tell, ``accepted_outputs`` is ``None``), took ``requires_action -> queued`` for the
    submit's move, and reported the call ``delivered``, though no create carrying it was ever
    applied (and then polled that old response until the overall deadline). For a chain the
    submit is a new response: the old one's status says nothing about it. The call should stay
    undelivered with its delivery unknown (``outcome_unknown submit``), never ``delivered``.
    Now a round an earlier drive may have sent is not read for at all: the recovered chain
    ends ``outcome_unknown submit`` again, and the stale read never happens."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.http_fault(kind="create_500", retry_after_ms=0),
        lambda m: m.step(sleeps=1),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.02),
        lambda m: m.crash(),
        lambda m: m.world.rewriter.add(Rewrite("stale")),
        lambda m: m.restart(crash_at=None),
        lambda m: m.step(sleeps=20),
    )
    assert replay.before(
        "run outcome: outcome_unknown submit", "recover outcome: outcome_unknown submit"
    )
    assert "rewrite fired: stale" not in replay.trail


def test_regression_recover_takes_a_completed_read_without_its_calls_as_delivery() -> None:
    """Found by the machine: the process died at ``before_submit`` (the call ran, its output
    recorded, the next create never sent). ``recover()`` read the response that asked for the
    call and the answer was ``completed`` with its ``function_call`` items gone (a wire
    rewrite). Resuming the recorded round, the kernel judged by status that the outputs got in
    (``requires_action -> completed``), reported the call ``delivered`` and ended ``terminal
    completed``, though no create ever carried its output (sent 0 times). The old response's
    status cannot show a chain's submit; the recorded output was never sent, so it should be
    sent now (or, if unsure, held ``outcome_unknown``), never reported delivered."""
    replay = _replay(
        lambda m: m.setup(crash_at="before_submit"),
        lambda m: m.start_run(
            cancel="confirm", final="answer", first=0.02, rounds=[["charge"]], work=0.02
        ),
        lambda m: m.step(sleeps=5),
        lambda m: m.world.rewriter.add(Rewrite("lost_calls")),
        lambda m: m.restart(crash_at=None),
        lambda m: m.step(sleeps=20),
    )
    assert replay.before("run ended: CrashPoint", "rewrite fired: lost_calls")


def test_regression_a_create_refused_past_its_retries_raises_the_rate_limit() -> None:
    """Found by the machine (its model expected 429s to be retried until the overall deadline):
    a first create refused with 429 four times in a row (two faults armed, two more while the
    controller backed off) raises the SDK's ``RateLimitError`` once the retry policy's attempts
    are spent, as ``RetryPolicy.max_attempts`` documents; nothing was created, and the create
    was never sent while the server had not refused the previous one."""
    replay = _replay(
        lambda m: m.setup(crash_at=None),
        lambda m: m.http_fault(kind="create_429", retry_after_ms=30),
        lambda m: m.http_fault(kind="create_429", retry_after_ms=0),
        lambda m: m.start_run(cancel="confirm", final="answer", first=0.02, rounds=[], work=0.02),
        lambda m: m.http_fault(kind="create_429", retry_after_ms=30),
        lambda m: m.step(sleeps=1),
        lambda m: m.http_fault(kind="create_429", retry_after_ms=0),
        lambda m: m.step(sleeps=5),
    )
    assert replay.trail.count("first create answered 429") == MAX_ATTEMPTS
    assert "run ended: RateLimitError" in replay.trail
    assert not replay.outcomes
