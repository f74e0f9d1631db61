"""What the Assistants run controllers add to the shared base: one drive of the kernel per run
with the Assistants binding, thread hygiene, continuing a run from the store or from an earlier
drive, the recovery plan, and the run outcome and events."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from typing import Any

from adapters.openai._base import ControllerBase, is_chain_intent
from adapters.openai._hygiene import ThreadClaims
from adapters.openai._outcome import RunEvent, RunFinished, RunOutcome, public_event
from adapters.openai._tools import ToolRunner
from adapters.store import RunStore
from lifecycle import ASSISTANTS_RUN, ApprovalRequest, Hooks, ToolRegistry
from lifecycle.kernel import (
    ActiveRunPolicy,
    AssistantsBinding,
    CancelSignal,
    ControllerConfig,
    Drive,
    DriveResult,
    Flow,
)
from lifecycle.kernel._assistants import ACTIVE_RUN_POLICIES

__all__ = ["RunsBase"]


class RunsBase(ControllerBase):
    """The Assistants part of :class:`RunController` and :class:`AsyncRunController`.

    Args:
        on_active_run: the default ``on_active_run`` policy of ``run()``.
        **settings: see :class:`ControllerBase`.
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
        approver: Callable[[ApprovalRequest], Any] | None = None,
    ) -> None:
        super().__init__(
            tools=tools,
            config=config,
            hooks=hooks,
            allowed_tools=allowed_tools,
            stream=stream,
            clock=clock,
            wall_clock=wall_clock,
            rng=rng,
            store=store,
            crash_at=crash_at,
            approver=approver,
        )
        if on_active_run not in ACTIVE_RUN_POLICIES:
            raise ValueError(f"on_active_run must be one of {sorted(ACTIVE_RUN_POLICIES)}")
        self.on_active_run: ActiveRunPolicy = on_active_run
        self._claims = ThreadClaims(store, wall_clock)

    # -- building drives -----------------------------------------------------------------------

    def _new_drive(
        self,
        thread_id: str,
        run_id: str = "",
        *,
        stream: bool | None = None,
        watch: bool = False,
        cancel_token: CancelSignal | None = None,
        allowed_tools: Collection[str] | None = None,
        on_active_run: ActiveRunPolicy | None = None,
        observe_only: bool = False,
    ) -> tuple[Drive, ToolRunner]:
        policy = on_active_run if on_active_run is not None else self.on_active_run
        if policy not in ACTIVE_RUN_POLICIES:
            raise ValueError(f"on_active_run must be one of {sorted(ACTIVE_RUN_POLICIES)}")
        binding = AssistantsBinding(
            on_active_run=policy, stream_timeout=self.config.stream_idle_timeout_s
        )
        drive = Drive(
            binding,
            config=self.config,
            scope=thread_id,
            run_id=run_id,
            now=self.clock(),
            wall=self.wall_clock(),
            tools=self.tools,
            allowed_tools=allowed_tools if allowed_tools is not None else self.allowed_tools,
            hooks=self.hooks,
            rng=self.rng,
            stream=self.stream if stream is None else stream,
            watch=watch,
            durable=self.store is not None and not observe_only,
            cancel_signal=cancel_token,
            observe_only=observe_only,
        )
        return drive, ToolRunner(self.tools, self._redact)

    def _attach(
        self, thread_id: str, run_id: str, cancel_token: CancelSignal | None
    ) -> tuple[Drive, ToolRunner, Flow]:
        """The flow of ``drive()``: it continues from the store's saved lifecycle and ledger, or
        from what this controller kept of an earlier drive of the run, so a tool call that ran
        is never run again; a run known nowhere is attached afresh."""
        drive, runner = self._new_drive(thread_id, run_id, cancel_token=cancel_token)
        stored = self.store.load(run_id) if self.store is not None else None
        if stored is not None and not stored.terminal:
            return drive, runner, self._resume(drive, stored)
        kept = self._claims.kept(run_id) if stored is None else None
        if kept is None:
            return drive, runner, drive.attach()
        # in this process an executed call always has its output, unless it is still running
        # past its budget: such a call is an unknown effect, never re-run
        running = {c for c, e in kept.ledger.entries.items() if e.executed and e.output is None}
        lifecycle = kept.restore(hooks=self.hooks)
        return (
            drive,
            runner,
            drive.resume(lifecycle, kept.ledger, started=running, unfinished=running),
        )

    def _recovery(self) -> list[tuple[Drive, ToolRunner, Flow]]:
        """One drive per pending run of the store, then one per unbound create intent.

        Raises:
            RuntimeError: the controller has no store.
        """
        store = self.store
        if store is None:
            raise RuntimeError("recover() needs a controller built with store=RunStore(...)")
        pending = [r for r in store.pending() if r.snapshot.lifecycle == ASSISTANTS_RUN.name]
        intents = [i for i in store.unbound_creates() if not is_chain_intent(i)]
        for stored in pending:  # no run() on these threads while they are reconciled (I6)
            self._claims.claim(stored.thread_id, stored.run_id, "recovering")
        for intent in intents:
            self._claims.claim(intent.thread_id, "", "recovering a create")
        plans: list[tuple[Drive, ToolRunner, Flow]] = []
        for stored in pending:
            drive, runner = self._new_drive(stored.thread_id, stored.run_id)
            plans.append((drive, runner, self._resume(drive, stored)))
        for intent in intents:
            drive, runner = self._new_drive(intent.thread_id)
            plans.append((drive, runner, drive.adopt_create(intent.op_id)))
        return plans

    # -- results -------------------------------------------------------------------------------

    @staticmethod
    def _finished(result: DriveResult) -> RunEvent:
        """The last event of a drive: :class:`RunFinished` with the run's outcome."""
        return RunFinished(RunOutcome.from_result(result))

    @staticmethod
    def _public(event: Any) -> RunEvent | None:
        """The public event for a kernel event."""
        return public_event(event)
