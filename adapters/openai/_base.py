"""What the sync and async controllers share: settings, clocks, building a flow for a run, the
per-thread bookkeeping of runs that did not end (thread hygiene, I6) and the recovery plan."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Collection, Generator
from typing import Any

from adapters.openai._config import ControllerConfig
from adapters.openai._errors import CRASH_POINTS, ActiveRunPolicy, ThreadBusy
from adapters.openai._flow import CancelToken, FlowContext, RunFlow
from adapters.openai._io import Reply, Request
from adapters.openai._outcome import RunOutcome
from adapters.store import EffectPhase, RunStore, StoredRun
from lifecycle import ASSISTANTS_RUN, Hooks, ToolRegistry

_POLICIES = frozenset({"cancel", "adopt", "fail"})

__all__ = ["ControllerBase"]


class ControllerBase:
    """Settings shared by :class:`RunController` and :class:`AsyncRunController`.

    Args:
        tools: the tool registry (default: none; every tool call gets an ``unknown_tool`` output).
        config: poll, deadline, retry and tool settings.
        hooks: lifecycle hooks passed to every run's :class:`lifecycle.RunLifecycle`.
        allowed_tools: the tool names allowed by default (``None``: all registered).
        stream: follow runs through the streaming API by default.
        clock: a monotonic clock in seconds, for deadlines.
        wall_clock: epoch seconds, for ``expires_at`` budgets and journal times.
        rng: the random source for backoff jitter.
        store: a durable :class:`~adapters.store.RunStore`: the create intent is recorded before
            ``POST /runs``, the lifecycle and ledger after every change, and each tool call's
            effect ``started``/``finished`` around it; :meth:`recover` continues after a crash.
        crash_at: a named crash point (tests only): raise :class:`CrashPoint` there.
        on_active_run: the default ``on_active_run`` policy of ``run()``.
    """

    def __init__(
        self,
        *,
        tools: ToolRegistry | None = None,
        config: ControllerConfig | None = None,
        hooks: Hooks | None = None,
        allowed_tools: Collection[str] | None = None,
        stream: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
        store: RunStore | None = None,
        crash_at: str | None = None,
        on_active_run: ActiveRunPolicy = "fail",
    ) -> None:
        if crash_at is not None and crash_at not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {crash_at!r}; one of {sorted(CRASH_POINTS)}")
        if on_active_run not in _POLICIES:
            raise ValueError(f"on_active_run must be one of {sorted(_POLICIES)}")
        self.tools = tools
        self.config = config if config is not None else ControllerConfig()
        self.hooks = hooks
        self.allowed_tools = allowed_tools
        self.stream = stream
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng if rng is not None else random.Random()
        self.store = store
        self.crash_at = crash_at
        self.on_active_run: ActiveRunPolicy = on_active_run
        self._redact: Callable[[str], str] | None = None
        # thread id -> (run id or "", why): runs this controller follows or left unfinished
        self._threads: dict[str, tuple[str, str]] = {}
        self._threads_lock = threading.Lock()
        # run id -> what an unfinished drive left (lifecycle + ledger), for a later drive()
        self._kept: dict[str, StoredRun] = {}

    def _flow(
        self,
        thread_id: str,
        run_id: str | None = None,
        *,
        stream: bool | None = None,
        watch: bool = False,
        cancel_token: CancelToken | None = None,
        allowed_tools: Collection[str] | None = None,
        on_active_run: ActiveRunPolicy | None = None,
    ) -> RunFlow:
        ctx = FlowContext(
            config=self.config,
            tools=self.tools,
            allowed_tools=allowed_tools if allowed_tools is not None else self.allowed_tools,
            hooks=self.hooks,
            clock=self.clock,
            wall_clock=self.wall_clock,
            rng=self.rng,
            stream=self.stream if stream is None else stream,
            watch=watch,
            cancel_token=cancel_token,
            store=self.store,
            crash_at=self.crash_at,
            redact=self._redact,
            on_active_run=on_active_run if on_active_run is not None else self.on_active_run,
        )
        return RunFlow(ctx, thread_id, run_id)

    # -- thread hygiene ------------------------------------------------------------------------

    def _reserve(self, thread_id: str) -> None:
        """Claim a thread for a new run, or raise: one active run per thread (I6).

        Raises:
            ThreadBusy: this controller follows a run there, or left one there that did not end
                (e.g. ``cancel_unconfirmed``), or its store has one that is not terminal or a
                create on the thread whose outcome is unknown (until ``recover()`` settles it).
        """
        with self._threads_lock:
            known = self._threads.get(thread_id)
            if known is not None:
                raise ThreadBusy(thread_id, known[0] or None, known[1])
            if self.store is not None:
                for stored in self.store.runs_of_thread(thread_id):
                    if not stored.terminal and stored.closed != "lost_handle":
                        raise ThreadBusy(
                            thread_id, stored.run_id, stored.closed or "pending in the store"
                        )
                for intent in self.store.unbound_creates():
                    if intent.thread_id == thread_id:  # a create whose outcome is unknown
                        raise ThreadBusy(thread_id, None, "create outcome unknown in the store")
            self._threads[thread_id] = ("", "being created")

    def _settle(self, thread_id: str, flow: RunFlow, outcome: RunOutcome | None) -> None:
        """Release the thread when its run ended; keep it marked when the run may be active."""
        if outcome is not None:
            self._keep(outcome)
        with self._threads_lock:
            if outcome is not None and outcome.status in ASSISTANTS_RUN.terminal_values:
                self._threads.pop(thread_id, None)
            elif outcome is None and not flow.run_id:
                self._threads.pop(thread_id, None)  # nothing was created
            elif outcome is not None and outcome.status in ("lost_handle", "not_created"):
                self._threads.pop(thread_id, None)  # the server has no such run
            else:
                reason = "not terminal"
                if outcome is not None and outcome.cancel_unconfirmed:
                    reason = "cancel_unconfirmed"
                elif outcome is not None and outcome.abandoned is not None:
                    reason = f"abandoned ({outcome.abandoned})"
                elif outcome is None:
                    reason = "the drive failed"
                self._threads[thread_id] = (flow.run_id, reason)

    def _keep(self, outcome: RunOutcome) -> None:
        """Remember the lifecycle and ledger of a run left unfinished (forget a finished one),
        so that a later ``drive()`` of it never runs a tool call again."""
        with self._threads_lock:
            if outcome.status in ASSISTANTS_RUN.terminal_values or outcome.snapshot is None:
                self._kept.pop(outcome.run_id, None)
                return
            if outcome.status in ("lost_handle", "not_created") or not outcome.run_id:
                return
            self._kept[outcome.run_id] = StoredRun(
                run_id=outcome.run_id,
                thread_id=outcome.thread_id,
                op_id=None,
                snapshot=outcome.snapshot,
                ledger=outcome.ledger,
                terminal=False,
                closed=None,
                revision=0,
                updated_at=self.wall_clock(),
            )

    def _attach(
        self, thread_id: str, run_id: str, cancel_token: CancelToken | None
    ) -> tuple[RunFlow, Generator[Request, Reply, Any]]:
        """The flow of ``drive()``: it continues from the store's saved lifecycle and ledger, or
        from what this controller kept of an earlier drive of the run, so a tool call that ran
        is never run again; a run known nowhere is attached afresh."""
        flow = self._flow(thread_id, run_id, cancel_token=cancel_token)
        stored = self.store.load(run_id) if self.store is not None else None
        if stored is not None:
            if stored.terminal:
                return flow, flow.attach()
            return flow, self._resume(flow, stored)
        with self._threads_lock:
            kept = self._kept.get(run_id)
        if kept is None:
            return flow, flow.attach()
        # in this process an executed call always has its output, unless it is still running
        # past its budget: such a call is an unknown effect, never re-run
        running = {cid for cid, e in kept.ledger.entries.items() if e.executed and e.output is None}
        return flow, flow.resume(kept, running, running)

    def _resume(self, flow: RunFlow, stored: StoredRun) -> Generator[Request, Reply, Any]:
        """Resume a run saved in the store, with the effects its log records."""
        assert self.store is not None
        effects = self.store.effects(stored.run_id)
        started = {e.tool_call_id for e in effects if e.phase is EffectPhase.STARTED}
        return flow.resume(stored, started, self.store.unknown_effects(stored.run_id))

    def _release(self, thread_id: str, run_id: str) -> None:
        """A run on the thread was seen terminal (``drive``/``cancel``): forget it."""
        with self._threads_lock:
            known = self._threads.get(thread_id)
            if known is not None and known[0] == run_id:
                self._threads.pop(thread_id, None)

    # -- recovery ------------------------------------------------------------------------------

    def _recovery(self) -> list[tuple[RunFlow, Generator[Request, Reply, Any]]]:
        """One flow per pending run of the store, then one per unbound create intent.

        Raises:
            RuntimeError: the controller has no store.
        """
        store = self.store
        if store is None:
            raise RuntimeError("recover() needs a controller built with store=RunStore(...)")
        plans: list[tuple[RunFlow, Generator[Request, Reply, Any]]] = []
        with self._threads_lock:  # no run() on these threads while they are reconciled (I6)
            for stored in store.pending():
                self._threads[stored.thread_id] = (stored.run_id, "recovering")
            for intent in store.unbound_creates():
                self._threads.setdefault(intent.thread_id, ("", "recovering a create"))
        for stored in store.pending():
            flow = self._flow(stored.thread_id, stored.run_id)
            plans.append((flow, self._resume(flow, stored)))
        for intent in store.unbound_creates():
            flow = self._flow(intent.thread_id)
            plans.append((flow, flow.adopt_create(intent.op_id)))
        return plans

    @staticmethod
    def _entry(flow: RunFlow, assistant_id: str | None, create_args: dict[str, Any]) -> Any:
        if assistant_id is not None:
            return flow.create(assistant_id, create_args)
        return flow.attach()

    def __repr__(self) -> str:
        tools = list(self.tools.names) if self.tools is not None else []
        durable = self.store is not None
        return f"<{type(self).__name__} tools={tools} stream={self.stream} durable={durable}>"


def key_redactor(api_key: str | None) -> Callable[[str], str] | None:
    """A function that removes the client's own API key from a text (``None``: no key).

    ``redact_secrets`` already knows ``sk-...`` keys, bearer tokens and ``key=value`` pairs; this
    catches a key of any other shape, by its exact value. Keys shorter than 8 characters are not
    searched for (they would match ordinary text).
    """
    if not api_key or len(api_key) < 8:
        return None
    key = api_key

    def redact(text: str) -> str:
        return text.replace(key, "[redacted]") if key in text else text

    return redact
