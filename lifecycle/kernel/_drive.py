"""One drive of one run: the state and the services every other kernel module builds on.

Theory of operation
-------------------
A :class:`Drive` is created per run by a driver and pumped through one of its entry points
(``create``, ``attach``, ``resume``, ``adopt_create``, ``cancel``; ``interrupted`` after a local
interruption). An entry point is a generator of requests (``_messages.py``); it returns a
:class:`DriveResult`. Where the decisions live:

=================  ===========================================================================
``_drive.py``      state, the retry layer (:meth:`Drive.call`), observing, sleeping up to the
                   next deadline, finishing with the ending
``_loop.py``       the entry points and the follow loop: poll, act, deadlines, cancel
``_rounds.py``     tool rounds: prepare, run once, record, submit once, reconcile a lost submit
``_durable.py``    what is saved when, the effect log, resuming after a crash
``_stream.py``     reading an event stream and falling back to polling
``_schedule.py``   when to poll, when to retry
=================  ===========================================================================

Every reply brings the driver's clock readings (``now`` monotonic, ``wall`` epoch) and any late
tool results; the drive reads no clock and draws randomness only from the ``rng`` it is given,
so a Temporal workflow can replay it.
"""

from __future__ import annotations

import dataclasses
import logging
import random
from collections.abc import Collection, Mapping
from typing import Any, Protocol

from lifecycle._ledger import ToolLedger
from lifecycle._machine import Hooks, RunLifecycle
from lifecycle._records import JournalEntry, Via
from lifecycle._tools import ToolRegistry
from lifecycle.kernel import _calls, _cancel, _deadlines, _finish, _loop
from lifecycle.kernel._binding import Binding, Flow, Observation, StreamItem
from lifecycle.kernel._checkpoint import DriveCheckpoint, restore_checkpoint, take_checkpoint
from lifecycle.kernel._config import ControllerConfig, RetryPolicy
from lifecycle.kernel._durable import save
from lifecycle.kernel._ending import Ending, EndingKind
from lifecycle.kernel._errors import Stop
from lifecycle.kernel._messages import Emit, Failure, HttpRequest, HttpResponse, Reply, Request
from lifecycle.kernel._results import DriveResult, MessageSeen, Notice, StatusSeen, StepSeen
from lifecycle.kernel._schedule import PollSchedule
from lifecycle.kernel._tables import TableFacts

__all__ = ["CancelSignal", "Drive", "new_op_id"]


class CancelSignal(Protocol):
    """Anything with a ``cancelled`` flag a caller sets while a run is driven."""

    @property
    def cancelled(self) -> bool:
        """Whether the caller asked for the run to be cancelled."""


class Drive:
    """The decisions for one run. Create one per drive; pump one entry point once.

    Args:
        binding: the API binding (table, requests, parsing).
        config: the settings.
        scope: what the run belongs to (an Assistants thread id).
        run_id: the run, when driving an existing one.
        now: the driver's monotonic clock at the start, in seconds.
        wall: the driver's wall clock at the start, in epoch seconds.
        tools: the tool registry (``None``: every call gets an ``unknown_tool`` output).
        allowed_tools: the tool names allowed for this run (``None``: all registered).
        hooks: user hooks passed to the :class:`RunLifecycle`.
        rng: the only source of randomness (backoff jitter, op ids).
        stream: follow the run through an event stream.
        watch: report completed steps and messages as events (extra requests when polling).
        durable: a store is attached: yield the save and effect-log requests.
        cancel_signal: a caller's cancel request.
        observe_only: follow the run without acting on it (``lifecycle watch``): no tool round,
            no submission, no cancel; a passed deadline or the cancel signal ends the drive.
    """

    def __init__(
        self,
        binding: Binding,
        *,
        config: ControllerConfig,
        scope: str,
        now: float,
        wall: float,
        run_id: str = "",
        tools: ToolRegistry | None = None,
        allowed_tools: Collection[str] | None = None,
        hooks: Hooks | None = None,
        rng: random.Random | None = None,
        stream: bool = False,
        watch: bool = False,
        durable: bool = False,
        cancel_signal: CancelSignal | None = None,
        observe_only: bool = False,
    ) -> None:
        self.binding = binding
        self.config = config
        self.facts = TableFacts.of(binding.spec)
        self.scope = scope
        self.run_id = run_id
        self.tools = tools if tools is not None else ToolRegistry()
        self.allowed_tools = allowed_tools
        self.hooks = hooks
        self.rng = rng if rng is not None else random.Random()
        self.watch = watch
        self.durable = durable
        self.cancel_signal = cancel_signal
        self.observe_only = observe_only
        self.lc = RunLifecycle(binding.spec, hooks=hooks)
        self.ledger = ToolLedger()
        self.op_id: str | None = None
        self.last: Observation | None = None
        self.requests = 0
        self.now = now
        self.wall = wall
        self.started = now
        self.state_since = now
        self.schedule = PollSchedule(config, now)
        self.streaming = stream
        self.stream_fallbacks = 0
        #: we asked for a cancel (the caller's or a deadline's; sent unless the run had ended),
        #: and since when it was sent
        self.cancel_requested = False
        self.cancel_started: float | None = None
        #: the caller's cancel signal was acted on
        self.user_cancel_seen = False
        #: the deadline that passed (it made the drive cancel, or stop)
        self.deadline: str | None = None
        self.round = 0
        self.pending_round: tuple[Any, ...] | None = None
        self.seen_steps: set[str] = set()
        self.messages: dict[str, str] = {}
        self.late_unsaved = False
        #: the objects the drive followed, oldest first (a Responses chain's response ids)
        self.object_ids: list[str] = [run_id] if run_id else []
        #: the object the drive followed before ``run_id``, until the store knows of the move
        self.superseded: str | None = None
        #: call ids whose output a submit carried (effect log ``submitted``): sent at most once
        self.submitted: set[str] = set()
        #: our own move into a new object, reported with that object's first observation
        self.unreported: tuple[JournalEntry, ...] = ()

    # -- talking to the driver -----------------------------------------------------------------

    def ask(self, request: Request) -> Flow:
        """Yield one request; take the clock readings and late tool results of the reply."""
        reply: Reply = yield request
        self.now = reply.now
        self.wall = reply.wall
        if reply.late:
            for output in reply.late:
                self.ledger.record_late(output)
            self.late_unsaved = True
        return reply

    def note(self, level: int, message: str, **fields: Any) -> Flow:
        """Emit a :class:`Notice` (ids, statuses and reasons only)."""
        fields.setdefault("run_id", self.run_id)
        yield from self.ask(Emit(Notice(level, message, fields)))

    def emit(self, event: Any) -> Flow:
        """Hand an event to the caller."""
        yield from self.ask(Emit(event))

    # -- the one retry layer (``_calls.py``) -----------------------------------------------------

    def retryable(self, failure: Failure) -> bool:
        """Whether a failed request may be sent again (see ``_calls.retryable``)."""
        return _calls.retryable(self.config.retry, failure)

    def call(
        self, op: str, http: HttpRequest, *, mutating: bool = False, attempts: int | None = None
    ) -> Flow:
        """Send a request through the one retry layer (see ``_calls.call``)."""
        return _calls.call(self, op, http, mutating=mutating, attempts=attempts)

    def parse(self, response: Any) -> Observation:
        """Parse an object answer; a body that is not the API's object raises ``CallFailed``."""
        return _calls.parse(self.binding, response)

    # -- time ----------------------------------------------------------------------------------

    def sleep(self, seconds: float, *, wake: bool = False) -> Flow:
        """Wait ``seconds``, or until the next deadline (then raises ``DeadlineReached``);
        ``wake``: a webhook about the run may end it early (returns whether one did)."""
        return _deadlines.sleep(self, seconds, wake=wake)

    # -- observing -----------------------------------------------------------------------------

    def observe(self, obs: Observation, via: Via, *, new_run: bool = False) -> Flow:
        """Reconcile an observation with the lifecycle. Returns whether the status moved.

        The server is authoritative on terminal statuses: a terminal status the table does not
        reach from the current state is recorded (an anomaly) and ends the drive with the
        server's status; the run is never polled or cancelled again.

        Raises:
            Stop: the server reported a terminal status the lifecycle cannot reach.
        """
        if new_run or not self.run_id:
            if new_run and self.run_id and obs.id != self.run_id:
                self.superseded = self.run_id
            self.run_id = obs.id
            if obs.id not in self.object_ids:
                self.object_ids.append(obs.id)
        elif obs.id != self.run_id:  # a stale read across a chain, a misrouted answer
            self.lc.record_foreign(obs.id, via=via, at=self.wall)
            yield from self.note(
                logging.WARNING, "an answer about another run; ignored", seen=obs.id
            )
            return False
        self.last = obs
        lc = self.lc
        entries = lc.observe(obs.status, via=via, at=self.wall, tool_calls=obs.tool_calls)
        if self.unreported:  # the move into this (new) object is ours: report it with it
            entries, self.unreported = [*self.unreported, *entries], ()
        if entries or self.superseded:  # a chain's next response is saved even if no move
            yield from save(self)
        if entries:
            self.state_since = self.now
            yield from self.emit(StatusSeen(obs.id, tuple(entries), lc._status, obs.payload))
            return True
        if obs.status in self.facts.terminal and not lc.is_terminal:
            yield from self.note(
                logging.WARNING,
                "the server reports a terminal status the table does not reach; it ends the drive",
                state=lc._status,
                status=obs.status,
            )
            raise Stop(self.ending(EndingKind.TERMINAL, status=obs.status, detail="off_table"))
        return False

    def answered(self, response: Any, *, new_object: bool = False) -> Flow:
        """Take the answer to our own mutating request (see ``DriveApi.answered``);
        ``new_object``: the answer is a new object the drive follows from now on."""
        assert isinstance(response, HttpResponse)
        self.schedule.after_action(response.headers, self.now)
        parsed = self.binding.parse(response.body)
        if isinstance(parsed, Failure):
            yield from self.note(logging.WARNING, "an answer is unreadable", error=parsed.message)
            return False
        yield from self.observe(parsed, Via.CLIENT, new_run=new_object)
        return True

    def step_seen(self, step_id: str, payload: Any) -> Flow:
        """Report a completed run step once."""
        if step_id not in self.seen_steps:
            self.seen_steps.add(step_id)
            yield from self.emit(StepSeen(self.run_id, payload))

    def message_seen(self, message_id: str, payload: Any, text: str) -> Flow:
        """Report a completed assistant message once, and keep its text."""
        if message_id not in self.messages:
            self.messages[message_id] = text
            yield from self.emit(MessageSeen(self.run_id, payload, text))

    def report(self, item: StreamItem) -> Flow:
        """Emit a completed step or message once (an empty item is skipped)."""
        if item.step is not None:
            yield from self.step_seen(item.step_id, item.step)
        elif item.message is not None:
            yield from self.message_seen(item.message_id, item.message, item.text)

    def stream_failed(self, why: str) -> Flow:
        """Stop streaming: polling takes over from here."""
        if self.streaming:
            self.stream_fallbacks += 1
            self.streaming = False
            yield from self.note(logging.WARNING, "no stream; polling instead", why=why)

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy."""
        return self.config.retry

    def cancel_other(self, run_id: str) -> Flow:
        """Cancel another run of the same scope and follow it to its end (a child drive with no
        store, tools or signal). Returns its :class:`Ending`."""
        child = Drive(
            self.binding,
            config=dataclasses.replace(self.config, fetch_messages=False),
            scope=self.scope,
            run_id=run_id,
            now=self.now,
            wall=self.wall,
            rng=self.rng,
        )
        result: DriveResult = yield from child.cancel()
        self.requests += child.requests
        self.now, self.wall = child.now, child.wall
        return result.ending

    @property
    def status(self) -> str:
        """The lifecycle's current status."""
        return self.lc._status

    def checkpoint(self) -> DriveCheckpoint:
        """The drive's state as plain data, to continue it elsewhere (see ``_checkpoint.py``)."""
        return take_checkpoint(self)

    def continue_from(
        self,
        checkpoint: DriveCheckpoint,
        *,
        started: Collection[str] = (),
        unfinished: Collection[str] = (),
    ) -> Flow:
        """Continue a drive from its :meth:`checkpoint` (its clocks, counters, cancel state,
        lifecycle and ledger). Returns the :class:`DriveResult`.

        Args:
            checkpoint: what an earlier drive left.
            started: call ids an effect log records ``started`` (never run again).
            unfinished: call ids ``started`` with no ``finished`` record.
        """
        restore_checkpoint(self, checkpoint)
        return self.resume(
            RunLifecycle.restore(checkpoint.lifecycle, hooks=self.hooks),
            ToolLedger.model_validate(checkpoint.ledger),
            op_id=checkpoint.op_id,
            started=started,
            unfinished=unfinished,
        )

    # -- entry points --------------------------------------------------------------------------

    def create(self, args: Mapping[str, Any], op_id: str | None = None) -> Flow:
        """Create the run and drive it to an end. Returns the :class:`DriveResult`.

        Args:
            args: the API's create arguments (``assistant_id``, ``metadata``...).
            op_id: the create intent's id (tagged on the run's metadata); a fresh one from the
                drive's ``rng`` by default.

        Raises:
            CallFailed: the create failed for good (no run is known to exist).
            ThreadBusy: the Assistants thread has an active run the policy does not resolve.
        """
        op = op_id or self.binding.op_id_from(args) or new_op_id(self.rng)
        return _finish.guarded(self, _loop.create_body(self, args, op))

    def attach(self) -> Flow:
        """Drive the existing run ``run_id`` to an end. Returns the :class:`DriveResult`."""
        return _finish.guarded(self, _loop.attach_body(self))

    def resume(
        self,
        lifecycle: RunLifecycle,
        ledger: ToolLedger,
        *,
        op_id: str | None = None,
        started: Collection[str] = (),
        unfinished: Collection[str] = (),
        submitted: Collection[str] = (),
    ) -> Flow:
        """Continue a run an earlier drive left, with its lifecycle, ledger and effect log
        (``started``, ``unfinished``: started and never finished, ``submitted`` call ids)."""
        body = _loop.resume_body(self, lifecycle, ledger, op_id, started, unfinished, submitted)
        return _finish.guarded(self, body)

    def adopt_create(self, op_id: str) -> Flow:
        """Find the run a create intent produced and drive it (``not_created`` if none)."""
        return _finish.guarded(self, _loop.adopt_body(self, op_id))

    def cancel(self) -> Flow:
        """Cancel the run ``run_id`` and follow it until it ends or the cancelling deadline."""
        return _finish.guarded(self, _loop.cancel_body(self))

    def interrupted(self) -> Flow:
        """After a local interruption: one cancel for a live run, then finish ``interrupted``."""
        return _cancel.interrupted(self)

    # -- endings -------------------------------------------------------------------------------

    def ending(
        self, kind: EndingKind, *, status: str | None = None, detail: str | None = None
    ) -> Ending:
        """An :class:`Ending` of ``kind`` with the drive's current facts."""
        seen = status if status is not None else self.lc._status
        return Ending(
            kind,
            status=seen,
            terminal=seen in self.facts.terminal,
            deadline=self.deadline,
            detail=detail,
        )


def new_op_id(rng: random.Random) -> str:
    """A create intent's id, from the drive's random source (replayable)."""
    return f"{rng.getrandbits(128):032x}"
