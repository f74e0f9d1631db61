"""The controller's decision logic, written once as a generator that yields I/O requests.

Theory of operation
-------------------
Like an httpx ``auth_flow``, :class:`RunFlow` never does I/O. Its entry points (:meth:`create`,
:meth:`attach`, :meth:`cancel`) are generators that yield requests from ``_io.py`` (call the API,
sleep, run tools, read a stream event, emit an event) and receive a :class:`Reply`. The sync and
async drivers pump the same generator, so polling, retries, reconciliation, deadlines, tool
rounds and streaming behave identically in both.

Every status the flow sees goes through :meth:`RunLifecycle.observe` with its ``via``; decisions use
the lifecycle (``is_terminal``, ``awaiting_client``, its commands) and sets derived from the table,
never a status string typed here. One loop drives a run:

1. act on the lifecycle's commands: a :class:`DispatchTools` starts a tool round (prepare, run,
   one submission with every required id); a user cancel sends a cancel;
2. stop when the run is terminal; check the per-state and overall deadlines;
3. sleep for the last response's ``openai-poll-after-ms`` (or the fallback) and poll.

Retries live in :meth:`RunFlow._call` only (the SDK's are off). A mutating call whose outcome is
unknown (timeout, dropped connection, 5xx) raises :class:`_UnknownOutcome` and its caller reads the
run before deciding anything; a 400 on submit or cancel also leads to a read, never a resend.
"""

from __future__ import annotations

import dataclasses
import functools
import random
import re
import threading
import uuid
from collections.abc import Callable, Collection, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from adapters.openai._config import ControllerConfig
from adapters.openai._errors import ActiveRunPolicy, CrashPoint, ThreadBusy
from adapters.openai._io import (
    END_OF_STREAM,
    MUTATING,
    ApiCall,
    CloseStream,
    Emit,
    NextEvent,
    Op,
    Persist,
    Reply,
    Request,
    RunTools,
    Sleep,
    ToolResult,
)
from adapters.openai._logging import logger
from adapters.openai._outcome import (
    MessageCompleted,
    RunOutcome,
    StatusChanged,
    StepCompleted,
    ToolsFinished,
    ToolsStarted,
    records_from_ledger,
)
from adapters.store import EffectPhase, RunStore, StoredRun
from lifecycle import (
    ASSISTANTS_RUN,
    CallState,
    DispatchTools,
    EdgeKind,
    Hooks,
    Prepared,
    RunLifecycle,
    StepStatus,
    ToolCall,
    ToolLedger,
    ToolOutput,
    ToolRegistry,
    Via,
)
from lifecycle._table import CANCEL_GUARD, SUBMIT_GUARD

__all__ = ["NO_RUN", "CancelToken", "FlowContext", "RunFlow"]

Flow = Generator[Request, Reply, Any]

_SPEC = ASSISTANTS_RUN
#: statuses a cancel edge may leave / enters, and the terminal statuses a cancel succeeds with
_CANCELLABLE = frozenset(e.source for e in _SPEC.edges if e.guard == CANCEL_GUARD)
_CANCEL_TARGETS = frozenset(e.dest for e in _SPEC.edges if e.guard == CANCEL_GUARD)
_CANCEL_SUCCESS = frozenset(s for s in _CANCEL_TARGETS if s in _SPEC.terminal_values) | frozenset(
    e.dest
    for e in _SPEC.edges
    if e.source in _CANCEL_TARGETS and e.kind is EdgeKind.DOCUMENTED and e.dest in _SPEC.terminal
)
_MESSAGE_DONE = "completed"  # Message.status (messages have no lifecycle table)
#: the server's 400 texts for "a run is active on this thread" (create, and add-message)
_ACTIVE_RUN = re.compile(r"already has an active run|while a run .* is active", re.IGNORECASE)
#: what an abandoned create intent (the server refused it: no run exists) is bound to
NO_RUN = ""


class CancelToken:
    """A thread-safe "please cancel" flag a caller sets while a run is being driven.

    The flow checks it before each step: it never dispatches tools or submits outputs after the
    token is set, and sends one cancel request.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask for the run to be cancelled."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()


@dataclass(frozen=True)
class FlowContext:
    """Everything a flow needs besides the run: settings, tools, hooks, clocks.

    Attributes:
        config: the controller settings.
        tools: the tool registry (``None``: every call gets an ``unknown_tool`` output).
        allowed_tools: the tool names allowed for this run (``None``: all registered).
        hooks: user hooks passed to each :class:`RunLifecycle`.
        clock: a monotonic clock in seconds (deadlines).
        wall_clock: epoch seconds (``expires_at`` budgets, journal times).
        rng: the random source for backoff jitter.
        stream: follow runs through the streaming API.
        watch: report completed steps and messages as events (costs extra requests when polling).
        cancel_token: a user's cancel request.
        store: the durable store (``None``: nothing is persisted).
        crash_at: a named crash point (tests only; see ``CRASH_POINTS``).
        redact: applied to every tool output before it is recorded or submitted (the client's
            own API key is removed this way).
        on_active_run: what to do when the server refuses a create because of a foreign active
            run on the thread.
    """

    config: ControllerConfig
    tools: ToolRegistry | None
    allowed_tools: Collection[str] | None
    hooks: Hooks | None
    clock: Callable[[], float]
    wall_clock: Callable[[], float]
    rng: random.Random = field(default_factory=random.Random)
    stream: bool = False
    watch: bool = False
    cancel_token: CancelToken | None = None
    store: RunStore | None = None
    crash_at: str | None = None
    redact: Callable[[str], str] | None = None
    on_active_run: ActiveRunPolicy = "fail"


class _UnknownOutcome(Exception):
    """A mutating call may or may not have been applied; read the run before anything else."""

    def __init__(self, op: Op, error: BaseException) -> None:
        super().__init__(f"{op} outcome unknown: {type(error).__name__}")
        self.op = op
        self.error = error


def _status_code(exc: BaseException) -> int | None:
    return exc.status_code if isinstance(exc, openai.APIStatusError) else None


def _retryable(exc: BaseException, statuses: Collection[int]) -> bool:
    """Whether a failed call may be sent again: no answer, a 5xx, or one of ``statuses``."""
    if isinstance(exc, openai.APIConnectionError):
        return True
    status = _status_code(exc)
    return status is not None and (status >= 500 or status in statuses)


def _error_reason(exc: BaseException) -> str:
    """A short machine-readable reason for an API error: ``http_503``, ``timeout``..."""
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    status = _status_code(exc)
    return f"http_{status}" if status is not None else type(exc).__name__


def tool_calls_of(run: Run) -> tuple[ToolCall, ...] | None:
    """The function calls a run asks for, or ``None`` when it carries no ``required_action``."""
    action = run.required_action
    if action is None or action.submit_tool_outputs is None:
        return None
    return tuple(
        ToolCall(tc.id, tc.function.name, tc.function.arguments)
        for tc in action.submit_tool_outputs.tool_calls or ()
    )


def message_text(message: Message) -> str:
    """The text of a message (text content blocks joined)."""
    parts = [
        block.text.value
        for block in message.content
        if block.type == "text" and getattr(block, "text", None) is not None
    ]
    return "".join(parts)


class RunFlow:
    """The decision logic for one run. Create one per run; pump one entry point once.

    Args:
        ctx: settings, tools, hooks and clocks.
        thread_id: the run's thread.
        run_id: the run, when attaching to an existing one.
    """

    def __init__(self, ctx: FlowContext, thread_id: str, run_id: str | None = None) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.tools = ctx.tools if ctx.tools is not None else ToolRegistry()
        self.thread_id = thread_id
        self.run_id = run_id or ""
        self.lc = RunLifecycle(_SPEC, hooks=ctx.hooks)
        self.ledger = ToolLedger()
        self.run: Run | None = None
        self.requests = 0
        self.started = ctx.clock()
        self.state_since = self.started
        self.poll_after: float | None = None
        self.deadline: str | None = None
        self.cancel_asked = False
        self.cancel_started: float | None = None
        self.streaming = ctx.stream
        self.stream_fallbacks = 0
        self.round = 0
        self.pending_round: tuple[ToolCall, ...] | None = None
        self.seen_steps: set[str] = set()
        self.messages: dict[str, str] = {}
        self.op_id: str | None = None
        self.blocked: tuple[str, ...] = ()  # calls with an unknown effect hold the round back
        self.lost = False  # the server does not know the run any more (404)
        self.abandoned: str | None = None  # why the drive gave up on a live run (API errors)
        self.not_created = False  # a create intent that no run on the server carries

    # -- entry points --------------------------------------------------------------------------

    def create(self, assistant_id: str, create_args: dict[str, Any]) -> Flow:
        """Create a run on the thread and drive it to an end. Returns the :class:`RunOutcome`.

        Raises:
            openai.APIError: the create failed for good (no run is known to exist).
        """

        def body() -> Flow:
            yield from self._create(assistant_id, create_args)
            yield from self._follow()

        return (yield from self._guarded(body()))

    def attach(self) -> Flow:
        """Drive an existing run (``run_id``) to an end. Returns the :class:`RunOutcome`."""

        def body() -> Flow:
            yield from self._retrieve()
            yield from self._follow()

        return (yield from self._guarded(body()))

    def resume(
        self, stored: StoredRun, started: Collection[str], unfinished: Collection[str]
    ) -> Flow:
        """Continue a run saved in the store by an earlier process. Returns the outcome.

        The saved lifecycle and ledger are restored. A call recorded ``started`` in the effect
        log (``started``; ``unfinished``: started, never finished) without a recorded output is
        never run again (``unknown_effect``). A round whose outputs were all recorded is
        reconciled like an unknown submit (delivered if the run moved on, submitted if it still
        waits). A 404 gives ``lost_handle``.
        """
        self.lc = stored.restore(hooks=self.ctx.hooks)
        self.ledger = stored.ledger
        self.op_id = stored.op_id
        self.round = max((e.round for e in self.ledger.entries.values()), default=0)

        def body() -> Flow:
            yield from self._restore_effects(started, unfinished)
            ids = [c.id for c in self.lc.pending_tool_calls]
            if self.lc.awaiting_client and ids and not self.ledger.pending(ids):
                settled = yield from self._reconcile_submit(ids)
                if not settled:
                    self.pending_round = self.lc.pending_tool_calls
            else:
                yield from self._retrieve()
                if self.lc.awaiting_client and self.lc.pending_tool_calls:
                    self.pending_round = self.lc.pending_tool_calls
            yield from self._follow()

        return (yield from self._guarded(body()))

    def adopt_create(self, op_id: str) -> Flow:
        """Find the run a create intent (``op_id``) produced and drive it. Returns the outcome.

        When no run carries the ``op_id`` the create never got in: the intent is closed and the
        outcome's status is ``not_created``.
        """
        self.op_id = op_id

        def body() -> Flow:
            found = yield from self._find_run(op_id)
            if not found:
                self.not_created = True
                yield from self._abandon_create()
                return
            yield from self._follow()

        return (yield from self._guarded(body()))

    def cancel(self) -> Flow:
        """Cancel an existing run and follow it until it ends (or the cancelling deadline)."""
        self.cancel_asked = True

        def body() -> Flow:
            yield from self._retrieve()
            if not self.lc.is_terminal:
                yield from self._send_cancel()
            yield from self._follow()

        return (yield from self._guarded(body()))

    def _guarded(self, body: Flow) -> Flow:
        """Drive ``body``, then finish. Once the run exists, an API error that outlasted its
        retries ends the drive with a report, never an exception: a 404 is ``lost_handle``, any
        other error ``abandoned`` (the run is saved as pending: ``recover()`` or ``drive()``
        continue it later, with the same ledger)."""
        try:
            yield from body
        except openai.NotFoundError:
            if not self.run_id:
                raise
            self.lost = True
            logger.warning("run handle lost (404)", extra={"run_id": self.run_id})
        except openai.APIError as exc:
            if not self.run_id:
                raise  # nothing is known to exist: the caller gets the error
            self.abandoned = _error_reason(exc)
            logger.error(
                "the API keeps failing; giving up on the run for now",
                extra={"run_id": self.run_id, "reason": self.abandoned},
            )
        return (yield from self._finish())

    # -- the loop ------------------------------------------------------------------------------

    def _follow(self) -> Flow:
        while True:
            yield from self._act()
            if self.lc.is_terminal or self.blocked:
                return
            action = self._check_deadlines()
            if action == "stop":
                return
            if action == "cancel":
                yield from self._send_cancel()
                continue
            yield Sleep(self._poll_delay())
            try:
                yield from self._retrieve()
            except openai.APIError as exc:
                if not _retryable(exc, self.cfg.retry.retry_statuses):
                    raise
                # a lost observation, not a reason to stop: poll again; the deadlines bound this
                logger.warning(
                    "poll failed after its retries; polling on",
                    extra={"run_id": self.run_id, "error": _error_reason(exc)},
                )
                continue
            if self.ctx.watch:
                yield from self._watch()

    def _act(self) -> Flow:
        token = self.ctx.cancel_token
        if token is not None and token.cancelled and not self.cancel_asked:
            self.cancel_asked = True
            if not self.lc.is_terminal:
                yield from self._send_cancel()
        # Loop: a round's submission (a stream, or a fast server) may already show the next
        # requires_action, whose DispatchTools must be acted on now, not after a poll interval.
        while True:
            for command in self.lc.take_commands():
                if isinstance(command, DispatchTools):
                    self.pending_round = command.tool_calls
            if self.pending_round is None:
                return
            if not self.lc.awaiting_client or self.cancel_asked:
                self.pending_round = None
                return
            if self.round >= self.cfg.max_tool_rounds:
                # OWASP LLM "unbounded consumption": stop a model that keeps calling tools
                self.pending_round = None
                self.deadline = self.deadline or "tool_round_limit"
                logger.warning(
                    "tool round limit reached",
                    extra={"run_id": self.run_id, "rounds": self.round},
                )
                self.cancel_asked = True
                yield from self._send_cancel()
                return
            calls, self.pending_round = self.pending_round, None
            yield from self._tools_round(calls)

    def _check_deadlines(self) -> str | None:
        """Apply the deadlines: ``"cancel"`` (send one now), ``"stop"`` (give up) or ``None``."""
        now = self.ctx.clock()
        passed: str | None = None
        if self.cancel_started is not None:
            limit = min(
                (self.cfg.deadlines.get(s, self.cfg.overall_timeout_s) for s in _CANCEL_TARGETS),
                default=self.cfg.overall_timeout_s,
            )
            if now - self.cancel_started > limit:
                passed = "cancelling"
        else:
            limit_state = self.cfg.deadlines.get(self.lc.state)
            if limit_state is not None and now - self.state_since > limit_state:
                passed = str(self.lc.state)
            elif now - self.started > self.cfg.overall_timeout_s:
                passed = "overall"
        if passed is None:
            return None
        self.deadline = self.deadline or passed
        logger.warning(
            "deadline passed",
            extra={"run_id": self.run_id, "deadline": passed, "state": str(self.lc.state)},
        )
        if (
            self.cancel_started is None
            and self.cfg.cancel_on_timeout
            and self.lc.state in _CANCELLABLE
        ):
            return "cancel"
        return "stop"

    def _poll_delay(self) -> float:
        if self.poll_after is not None:
            return min(self.poll_after, self.cfg.max_poll_interval_s)
        return self.cfg.poll_interval_s

    # -- durability ----------------------------------------------------------------------------

    def _save(self) -> Flow:
        """Persist the lifecycle and the ledger (after every transition and ledger change)."""
        store = self.ctx.store
        if store is None or not self.run_id:
            return
        yield Persist(
            functools.partial(
                store.save,
                self.run_id,
                thread_id=self.thread_id,
                lifecycle=self.lc.snapshot(),
                ledger=self.ledger,
                op_id=self.op_id,
            )
        )

    def _crash(self, point: str) -> None:
        if self.ctx.crash_at == point:
            raise CrashPoint(point)

    # -- observing -----------------------------------------------------------------------------

    def _observe(self, run: Run, via: Via) -> Flow:
        self.run = run
        self.run_id = run.id
        entries = self.lc.observe(
            run.status, via=via, at=self.ctx.wall_clock(), tool_calls=tool_calls_of(run)
        )
        if entries:
            self.state_since = self.ctx.clock()
            for e in entries:
                logger.info(
                    "transition",
                    extra={
                        "run_id": run.id,
                        "source": e.source,
                        "dest": e.dest,
                        "via": e.via,
                        "inferred": e.inferred,
                    },
                )
            yield from self._save()
            yield Emit(StatusChanged(run.id, tuple(entries), str(self.lc.state), run))

    def _parse(self, raw: Any) -> Any:
        """Parse a raw response and remember its ``openai-poll-after-ms`` header."""
        header = raw.headers.get("openai-poll-after-ms")
        self.poll_after = None
        if header is not None:
            try:
                self.poll_after = max(float(header), 0.0) / 1000.0
            except ValueError:
                self.poll_after = None
        return raw.parse()

    def _retrieve(self) -> Flow:
        raw = yield from self._call(Op.RETRIEVE, thread_id=self.thread_id, run_id=self.run_id)
        run: Run = self._parse(raw)
        yield from self._observe(run, Via.POLL)

    # -- the one retry layer -------------------------------------------------------------------

    def _call(self, op: Op, **kwargs: Any) -> Flow:
        policy = self.cfg.retry
        attempt = 0
        while True:
            self.requests += 1
            logger.debug("request", extra={"op": op.value, "run_id": self.run_id, "try": attempt})
            reply = yield ApiCall(op, kwargs)
            if reply.error is None:
                return reply.value
            exc = reply.error
            status = _status_code(exc)
            if not _retryable(exc, policy.retry_statuses):
                raise exc
            if op in MUTATING and status != 429:
                logger.warning(
                    "outcome unknown",
                    extra={"op": op.value, "run_id": self.run_id, "error": type(exc).__name__},
                )
                raise _UnknownOutcome(op, exc) from exc
            attempt += 1
            if attempt >= policy.max_attempts:
                raise exc
            delay = self._backoff(attempt, exc)
            logger.info(
                "retry",
                extra={
                    "op": op.value,
                    "status": status,
                    "delay_s": round(delay, 3),
                    "try": attempt,
                },
            )
            yield Sleep(delay)

    def _backoff(self, attempt: int, exc: BaseException | None) -> float:
        policy = self.cfg.retry
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
        if headers is not None:
            for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
                value = headers.get(name)
                if value is None:
                    continue
                try:
                    return min(max(float(value) / scale, 0.0), policy.max_retry_after_s)
                except ValueError:
                    continue
        return self.ctx.rng.uniform(0.0, min(policy.cap_s, policy.base_s * 2**attempt))

    def _retry_unknown(self, attempts: int, error: BaseException) -> Flow:
        """Wait before re-sending a mutating call that was not applied (bounded)."""
        if attempts >= self.cfg.retry.max_attempts:
            raise error
        yield Sleep(self._backoff(attempts, None))

    # -- create --------------------------------------------------------------------------------

    def _create(self, assistant_id: str, create_args: dict[str, Any]) -> Flow:
        args = dict(create_args)
        metadata = dict(args.pop("metadata", None) or {})
        op_id = str(metadata.setdefault("op_id", uuid.uuid4().hex))
        self.op_id = op_id
        kwargs = {"thread_id": self.thread_id, "assistant_id": assistant_id, "metadata": metadata}
        kwargs.update(args)
        store = self.ctx.store
        if store is not None:
            yield Persist(functools.partial(_begin_create, store, op_id, self.thread_id))
        attempts = 0
        busy = 0
        while True:
            op = Op.CREATE_STREAM if self.streaming else Op.CREATE
            try:
                value = yield from self._call(op, **self._stream_kwargs(op, kwargs))
                self._crash("after_create_sent")
            except openai.BadRequestError as exc:
                if not _ACTIVE_RUN.search(str(exc)) or busy >= 3:
                    yield from self._abandon_create()
                    raise
                busy += 1
                try:
                    adopted = yield from self._resolve_active(op_id)
                except ThreadBusy:
                    yield from self._abandon_create()
                    raise
                if adopted:
                    return
                continue
            except _UnknownOutcome as unknown:
                found = yield from self._find_run(op_id)
                if found:
                    self._stream_failed()  # whatever the stream had is lost: poll from here
                    return
                attempts += 1
                yield from self._retry_unknown(attempts, unknown.error)
                continue
            if op is Op.CREATE_STREAM:
                yield from self._consume(value)
            else:
                yield from self._observe(self._parse(value), Via.CLIENT)
            return

    def _abandon_create(self) -> Flow:
        """The server refused the create: no run exists for this intent; close the intent."""
        store = self.ctx.store
        if store is not None and self.op_id is not None:
            yield Persist(functools.partial(store.bind_create, self.op_id, NO_RUN))

    def _resolve_active(self, op_id: str) -> Flow:
        """A create was refused for an active run: adopt ours, or apply ``on_active_run``.

        Returns ``True`` when a run was adopted (the flow follows it), ``False`` to create again.

        Raises:
            ThreadBusy: the policy is ``fail``, or a cancelled orphan did not end in time.
        """
        raw = yield from self._call(Op.LIST_RUNS, thread_id=self.thread_id, limit=20)
        active = [r for r in self._parse(raw).data if r.status not in _SPEC.terminal_values]
        mine = [r for r in active if (r.metadata or {}).get("op_id") == op_id]
        policy = self.ctx.on_active_run
        chosen = mine[0] if mine else (active[0] if active and policy == "adopt" else None)
        if chosen is not None:
            logger.info(
                "adopted the active run of the thread",
                extra={"run_id": chosen.id, "ours": bool(mine)},
            )
            self._stream_failed()
            yield from self._observe(chosen, Via.POLL)
            return True
        if not active:
            return False  # it ended meanwhile: create again
        if policy != "cancel":
            raise ThreadBusy(self.thread_id, active[0].id, "active on the server")
        for orphan in active:
            logger.warning("cancelling an orphan active run", extra={"run_id": orphan.id})
            child = RunFlow(
                dataclasses.replace(
                    self.ctx,
                    config=dataclasses.replace(self.cfg, fetch_messages=False),
                    store=None,
                    crash_at=None,
                    cancel_token=None,
                    watch=False,
                    stream=False,
                ),
                self.thread_id,
                orphan.id,
            )
            outcome = yield from child.cancel()
            self.requests += child.requests
            if outcome.status not in _SPEC.terminal_values:
                raise ThreadBusy(self.thread_id, orphan.id, "orphan cancel unconfirmed")
        return False

    def _find_run(self, op_id: str) -> Flow:
        """Find a run this flow created (by its ``op_id`` metadata) after an unknown create."""
        raw = yield from self._call(Op.LIST_RUNS, thread_id=self.thread_id, limit=20)
        page = self._parse(raw)
        for run in page.data:
            if (run.metadata or {}).get("op_id") == op_id:
                logger.info("adopted run after unknown create", extra={"run_id": run.id})
                yield from self._observe(run, Via.POLL)
                return True
        return False

    # -- tools ---------------------------------------------------------------------------------

    def _tools_round(self, calls: Sequence[ToolCall]) -> Flow:
        unique = list({c.id: c for c in reversed(calls)}.values())[::-1]
        if not unique:
            return  # requires_action without calls: an anomaly; re-read, never submit nothing
        self.round += 1
        rnd = self.round
        for c in unique:
            self.ledger.intend(c, round=rnd)
        yield Emit(ToolsStarted(self.run_id, rnd, tuple(unique)))
        yield from self._execute(unique)
        blocked = tuple(c.id for c in unique if self._unknown(c.id))
        if blocked:
            # never run again, never answered on our behalf: the round waits for a person
            self.blocked = blocked
            logger.error(
                "tool calls with an unknown effect; not re-run, not submitted",
                extra={"run_id": self.run_id, "tool_call_ids": list(blocked)},
            )
            return
        outputs: list[ToolOutput] = []
        for c in unique:
            recorded = self.ledger.output_for(c.id)
            outputs.append(
                recorded if recorded is not None else self.tools.finish(c, timed_out=True)
            )
        ids = [c.id for c in unique]
        records = tuple(r for r in records_from_ledger(self.ledger) if r.id in set(ids))
        yield Emit(ToolsFinished(self.run_id, rnd, records))
        token = self.ctx.cancel_token
        if token is not None and token.cancelled:
            self.ledger.undelivered(ids, reason="cancelled")
            yield from self._act()  # sends the cancel; never submit after a cancel request
            return
        self._crash("before_submit")
        yield from self._submit(ids, outputs)

    def _execute(self, calls: list[ToolCall]) -> Flow:
        """Prepare the calls never started, run the ready ones, record every output."""
        budget = self._tool_budget()
        to_run: list[Prepared] = []
        for c in calls:
            if self.ledger.state_of(c.id) is not CallState.INTENDED:
                continue  # ran (or was answered) before: its recorded output is reused
            prepared = self.tools.prepare(c, allowed=self.ctx.allowed_tools)
            if prepared.error is not None:
                self.ledger.record(prepared.error, executed=False)
            elif budget <= 0:
                self.ledger.record(self.tools.finish(c, timed_out=True), executed=False)
            elif self.ledger.claim(c.id):
                to_run.append(prepared)
        results: list[ToolResult] = []
        if to_run:
            yield from self._save()
            for p in to_run:  # committed before the side effect: the at-most-once gate
                yield from self._effect(p.call.id, EffectPhase.STARTED)
            reply = yield RunTools(
                tuple(to_run), budget, max(1, self.cfg.max_concurrency), self._on_late
            )
            if reply.error is not None:
                raise reply.error
            self._crash("after_tool_effect")
            results = list(reply.value)
            for r in results:
                out = self.tools.finish(
                    r.prepared.call, r.value, error=r.error, timed_out=r.timed_out
                )
                self.ledger.record(self._scrub(out), executed=True, timed_out=r.timed_out)
        yield from self._save()
        for r in results:
            detail = "timed_out" if r.timed_out else "ok"
            if r.error is not None:
                detail = f"error:{type(r.error).__name__}"
            yield from self._effect(r.prepared.call.id, EffectPhase.FINISHED, detail)

    def _effect(self, call_id: str, phase: EffectPhase, detail: str = "") -> Flow:
        """Append to the store's effect log (no store: nothing)."""
        store = self.ctx.store
        if store is not None:
            yield Persist(
                functools.partial(store.record_effect, self.run_id, call_id, phase, detail=detail)
            )

    def _scrub(self, out: ToolOutput) -> ToolOutput:
        """Apply the controller's redaction (its own API key) to an output."""
        redact = self.ctx.redact
        if redact is None:
            return out
        output, full = redact(out.output), redact(out.full_output)
        if output == out.output and full == out.full_output:
            return out
        return dataclasses.replace(out, output=output, full_output=full)

    def _unknown(self, call_id: str) -> bool:
        entry = self.ledger.entries.get(call_id)
        return entry is not None and entry.state is CallState.UNKNOWN_EFFECT

    def _restore_effects(self, started: Collection[str], unfinished: Collection[str]) -> Flow:
        """Reconcile the restored ledger with the effect log after a restart."""
        for cid, entry in self.ledger.entries.items():
            if entry.output is not None:
                if cid in unfinished:
                    # the output was saved, only its "finished" record was lost in the crash
                    yield from self._effect(cid, EffectPhase.FINISHED, "recovered")
                continue
            if cid in started:
                self.ledger.mark_unknown(cid)
            else:
                self.ledger.reopen(cid)  # claimed, but never started: safe to run

    def _tool_budget(self) -> float:
        budget = self.cfg.tool_timeout_s
        expires_at = self.run.expires_at if self.run is not None else None
        if expires_at:
            budget = min(budget, expires_at - self.ctx.wall_clock() - self.cfg.expiry_margin_s)
        return budget

    def _on_late(self, prepared: Prepared, value: Any, error: BaseException | None) -> None:
        out = self._scrub(self.tools.finish(prepared.call, value, error=error))
        self.ledger.record_late(out)
        logger.warning(
            "tool finished after its budget",
            extra={"run_id": self.run_id, "tool_call_id": prepared.call.id},
        )

    # -- submit --------------------------------------------------------------------------------

    def _submit(self, ids: list[str], outputs: list[ToolOutput]) -> Flow:
        if sorted(o.tool_call_id for o in outputs) != sorted(ids):  # pragma: no cover - invariant
            raise AssertionError("one output per required tool call id")
        params = [o.to_param() for o in outputs]
        attempts = 0
        while True:
            op = Op.SUBMIT_STREAM if self.streaming else Op.SUBMIT
            kwargs = {"thread_id": self.thread_id, "run_id": self.run_id, "tool_outputs": params}
            try:
                value = yield from self._call(op, **self._stream_kwargs(op, kwargs))
            except _UnknownOutcome as unknown:
                settled = yield from self._reconcile_submit(ids)
                if settled:
                    return
                attempts += 1
                yield from self._retry_unknown(attempts, unknown.error)
                continue
            except openai.BadRequestError as exc:
                logger.warning(
                    "submit refused; re-reading the run",
                    extra={"run_id": self.run_id, "error": str(exc)[:200]},
                )
                yield from self._reconcile_submit(ids)
                return
            self._crash("after_submit_sent")
            self.lc.record_submission(ids)
            self.ledger.delivered(ids)
            yield from self._save()
            if op is Op.SUBMIT_STREAM:
                yield from self._consume(value)
            else:
                yield from self._observe(self._parse(value), Via.CLIENT)
            return

    def _reconcile_submit(self, ids: list[str]) -> Flow:
        """After an unknown or refused submit, find out whether the outputs got in. Returns
        whether that is settled (delivered, or never deliverable because the run ended).

        The authority is the run's ``tool_calls`` step: the server sets each call's
        ``function.output`` once it accepted the submission. A run's status alone can mislead
        (a stale read shows the run past ``requires_action`` while the submit never landed, or
        still waiting when it did). Only when no step lists the calls (a server without run
        steps) does the status decide.
        """
        self.lc.record_submission(ids)  # we did send it: a move past requires_action is ours
        before = len(self.lc.history)
        yield from self._retrieve()
        accepted = yield from self._accepted_outputs(ids)
        if accepted is None:  # no step knows these calls: judge by the status
            entries = self.lc.history[before:]
            delivered = any(_is_submit(e) for e in entries)
        else:
            delivered = accepted >= set(ids)
        if delivered:
            self.ledger.delivered(ids)
            yield from self._save()
            return True
        if self.lc.is_terminal or (accepted is None and not self.lc.awaiting_client):
            self.ledger.undelivered(ids, reason=str(self.lc.state))
            yield from self._save()
            return True
        return False

    def _accepted_outputs(self, ids: list[str]) -> Flow:
        """The ids among ``ids`` whose output the server holds (from the run steps), or
        ``None`` when no step lists any of them."""
        raw = yield from self._call(
            Op.LIST_STEPS, thread_id=self.thread_id, run_id=self.run_id, order="desc", limit=20
        )
        wanted = set(ids)
        listed: set[str] = set()
        accepted: set[str] = set()
        for step in self._parse(raw).data:
            details = step.step_details
            for call in getattr(details, "tool_calls", None) or ():
                if call.id not in wanted or call.type != "function":
                    continue
                listed.add(call.id)
                if call.function.output is not None:
                    accepted.add(call.id)
        return accepted if listed else None

    # -- cancel --------------------------------------------------------------------------------

    def _send_cancel(self) -> Flow:
        self.lc.request_cancel()
        self.cancel_asked = True
        self.cancel_started = self.ctx.clock()
        attempts = 0
        while True:
            try:
                raw = yield from self._call(Op.CANCEL, thread_id=self.thread_id, run_id=self.run_id)
            except _UnknownOutcome as unknown:
                yield from self._retrieve()
                if self.lc.is_terminal or self.lc.state in _CANCEL_TARGETS:
                    return
                attempts += 1
                yield from self._retry_unknown(attempts, unknown.error)
                continue
            except openai.BadRequestError as exc:
                logger.info(
                    "cancel refused; re-reading the run",
                    extra={"run_id": self.run_id, "error": str(exc)[:200]},
                )
                yield from self._retrieve()
                return
            yield from self._observe(self._parse(raw), Via.CLIENT)
            return

    # -- streaming -----------------------------------------------------------------------------

    def _consume(self, stream: Any) -> Flow:
        failed = False
        while True:
            reply = yield NextEvent(stream, self.cfg.stream_idle_timeout_s)
            if reply.error is not None:
                logger.warning(
                    "stream dropped; polling instead",
                    extra={"run_id": self.run_id, "error": type(reply.error).__name__},
                )
                failed = True
                break
            if reply.value is END_OF_STREAM:
                break
            yield from self._on_event(reply.value)
        yield CloseStream(stream)
        if failed or not (self.lc.is_terminal or self.lc.awaiting_client):
            self._stream_failed()

    def _stream_kwargs(self, op: Op, kwargs: dict[str, Any]) -> dict[str, Any]:
        """A stream's read timeout is its idle timeout: a silent stream fails, polling resumes."""
        if op in (Op.CREATE_STREAM, Op.SUBMIT_STREAM):
            return {**kwargs, "timeout": self.cfg.stream_idle_timeout_s}
        return kwargs

    def _stream_failed(self) -> None:
        if self.streaming:
            self.stream_fallbacks += 1
        self.streaming = False

    def _on_event(self, event: Any) -> Flow:
        data = getattr(event, "data", None)
        if isinstance(data, Run):
            yield from self._observe(data, Via.STREAM)
        elif isinstance(data, RunStep):
            yield from self._step_seen(data)
        elif isinstance(data, Message):
            yield from self._message_seen(data)

    def _step_seen(self, step: RunStep) -> Flow:
        if str(step.status) == StepStatus.COMPLETED.value and step.id not in self.seen_steps:
            self.seen_steps.add(step.id)
            yield Emit(StepCompleted(self.run_id, step))

    def _message_seen(self, message: Message) -> Flow:
        if message.role != "assistant" or message.status != _MESSAGE_DONE:
            return
        if message.id in self.messages:
            return
        text = message_text(message)
        self.messages[message.id] = text
        yield Emit(MessageCompleted(self.run_id, message, text))

    # -- watching and finishing ----------------------------------------------------------------

    def _watch(self) -> Flow:
        raw = yield from self._call(
            Op.LIST_STEPS, thread_id=self.thread_id, run_id=self.run_id, order="asc", limit=100
        )
        new_messages = False
        for step in self._parse(raw).data:
            fresh = step.id not in self.seen_steps
            yield from self._step_seen(step)
            if fresh and step.id in self.seen_steps and step.type == "message_creation":
                new_messages = True
        if new_messages:
            yield from self._list_messages()

    def _list_messages(self) -> Flow:
        raw = yield from self._call(
            Op.LIST_MESSAGES, thread_id=self.thread_id, run_id=self.run_id, order="asc", limit=100
        )
        for message in self._parse(raw).data:
            yield from self._message_seen(message)

    def _finish(self) -> Flow:
        if self.cfg.fetch_messages and self.lc.is_terminal and self.run_id:
            try:
                yield from self._list_messages()
            except openai.APIError as exc:  # the answer is a bonus; the outcome stands
                logger.warning("could not list messages", extra={"error": type(exc).__name__})
        terminal = self.lc.is_terminal
        state = str(self.lc.state)
        cancel_unconfirmed = self.cancel_started is not None and not terminal
        # I2: no output is left in limbo; each one not delivered says why (a later drive of a
        # live run may still deliver it: the output stays recorded)
        open_ids = [
            cid
            for cid, e in self.ledger.entries.items()
            if e.state
            not in (CallState.DELIVERED, CallState.EXECUTED_UNDELIVERED, CallState.UNKNOWN_EFFECT)
        ]
        if open_ids:
            self.ledger.undelivered(open_ids, reason=self._ending(terminal, cancel_unconfirmed))
        snapshot = self.lc.snapshot()
        yield from self._save()
        store = self.ctx.store
        if store is not None and self.run_id and not terminal:
            reason = (
                "lost_handle" if self.lost else "cancel_unconfirmed" if cancel_unconfirmed else None
            )
            if reason is not None:
                yield Persist(functools.partial(store.close_run, self.run_id, reason))
        outcome = RunOutcome(
            status="lost_handle" if self.lost else "not_created" if self.not_created else state,
            run_id=self.run_id,
            thread_id=self.thread_id,
            history=self.lc.history,
            anomalies=self.lc.anomalies,
            tool_calls=records_from_ledger(self.ledger),
            run=self.run,
            messages=tuple(self.messages.values()),
            requests=self.requests,
            deadline=self.deadline,
            abandoned=self.abandoned,
            cancel_requested=self.cancel_asked,
            cancel_lost_race=self.cancel_asked and terminal and state not in _CANCEL_SUCCESS,
            cancel_unconfirmed=cancel_unconfirmed,
            stream_fallbacks=self.stream_fallbacks,
            unknown_effects=tuple(c for c in self.ledger.entries if self._unknown(c)),
            snapshot=snapshot,
            ledger=self.ledger,
        )
        logger.info(
            "run finished",
            extra={"run_id": self.run_id, "status": state, "deadline": self.deadline},
        )
        return outcome

    def _ending(self, terminal: bool, cancel_unconfirmed: bool) -> str:
        """Why a drive ended, as the reason of the outputs it did not deliver."""
        if terminal:
            return str(self.lc.state)
        if self.lost:
            return "lost_handle"
        if cancel_unconfirmed:
            return "cancel_unconfirmed"
        if self.abandoned is not None:
            return "abandoned"
        if self.blocked:
            return "held"  # a call of the round has an unknown effect: a person decides
        if self.deadline is not None:
            return f"deadline:{self.deadline}"
        return "not_followed"


def _begin_create(store: RunStore, op_id: str, thread_id: str) -> None:
    if store.create_intent(op_id) is None:  # a caller's own op_id may be retried
        store.begin_create(op_id, thread_id)


def _is_submit(entry: Any) -> bool:
    edge = _SPEC.edge(entry.source, entry.trigger)
    return edge is not None and edge.guard == SUBMIT_GUARD
