# Generated from adapters/openai/_async/_controller.py by scripts/unasync.py: do not edit;
# change the async source and run `python scripts/unasync.py`.
"""The sync controller of Assistants runs: pump the kernel's drives with ``OpenAI``.

Written once, as async code; the sync twin is generated from it by ``scripts/unasync.py`` (CI runs
it with ``--check``). What differs between the twins (how they wait) lives in ``_backends.py``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from openai import OpenAI

from adapters.openai._backends import SyncBackend
from adapters.openai._base import key_redactor
from adapters.openai._outcome import RunEvent, RunOutcome
from adapters.openai._runs import RunsBase
from adapters.openai._sync._pump import SyncPump
from adapters.openai._token import CancelToken
from adapters.store import RunStore
from lifecycle import Approver, Hooks, ToolRegistry
from lifecycle.kernel import ActiveRunPolicy, ControllerConfig

__all__ = ["RunController"]


class RunController(RunsBase, SyncPump):
    """Drive Assistants runs with an ``openai.OpenAI`` client.

    The client is used with ``max_retries=0``: the controller is the one retry layer.

    Args:
        client: the SDK client (its API key is never logged nor kept in any record).
        tools: the tool registry (default: none; every tool call gets an ``unknown_tool`` output).
        config: poll, deadline, retry and tool settings (:class:`ControllerConfig`).
        hooks: lifecycle hooks passed to every run's :class:`lifecycle.RunLifecycle`.
        allowed_tools: the tool names allowed by default (``None``: all registered).
        stream: follow runs through the streaming API by default.
        clock: a monotonic clock in seconds, for deadlines.
        wall_clock: epoch seconds, for ``expires_at`` budgets and journal times.
        rng: the random source for backoff jitter and create-intent ids.
        store: a durable :class:`~adapters.store.RunStore` (see ``recover()``).
        crash_at: a named crash point (tests only).
        approver: the approval hook, asked before a call of a tool registered
            ``needs_approval`` (or an MCP approval request) goes ahead: a :class:`Decision`,
            ``True``/``False``, or ``None`` (undecided: the drive ends ``held``); a coroutine
            function works too.
        on_active_run: the default ``on_active_run`` policy of ``run()``.
        sleep: how to wait (tests pass one that moves a fake clock).

    Example::

        controller = RunController(openai.OpenAI(), tools=registry)
        outcome = controller.run(thread_id=thread.id, assistant_id=assistant.id)
        print(outcome.status, outcome.text)
    """

    def __init__(
        self,
        client: OpenAI,
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
        sleep: Callable[[float], None] = time.sleep,
        approver: Approver | None = None,
    ) -> None:
        RunsBase.__init__(
            self,
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
            on_active_run=on_active_run,
        )
        self._io = SyncBackend.for_client(client, self.config.request_timeout_s, sleep)
        self._redact = key_redactor(client.api_key)

    def run(
        self,
        *,
        thread_id: str,
        assistant_id: str,
        stream: bool | None = None,
        cancel_token: CancelToken | None = None,
        allowed_tools: Collection[str] | None = None,
        on_active_run: ActiveRunPolicy | None = None,
        **create_args: Any,
    ) -> RunOutcome:
        """Create a run on ``thread_id`` and drive it to an end.

        Args:
            thread_id: the thread.
            assistant_id: the assistant.
            stream: follow the run by streaming (default: the controller's setting).
            cancel_token: set it (from a hook or another thread) to cancel the run.
            allowed_tools: restrict the tools for this run.
            on_active_run: what to do if the server refuses the create because another run is
                active on the thread: ``fail`` (``ThreadBusy``), ``adopt`` or ``cancel``.
            **create_args: passed to the create request (``metadata``, ``instructions``, ...).

        Returns:
            The outcome; a failed, expired, cancelled or incomplete run is not an error.

        Raises:
            ThreadBusy: a run is (or may be) active on the thread; nothing was created.
            openai.APIError: the create failed for good (no run is known to exist). Once the
                run exists, API errors end the drive as an outcome instead.
        """
        self._check_ids(thread_id=thread_id, assistant_id=assistant_id)
        self._claims.reserve(thread_id)
        drive, runner = self._new_drive(
            thread_id,
            stream=stream,
            cancel_token=cancel_token,
            allowed_tools=allowed_tools,
            on_active_run=on_active_run,
        )
        outcome: RunOutcome | None = None
        try:
            flow = drive.create({"assistant_id": assistant_id, **create_args})
            outcome = self._outcome_of(drive, runner, flow)
        finally:
            self._claims.settle(thread_id, drive.run_id, outcome)
        return outcome

    def drive(
        self, *, thread_id: str, run_id: str, cancel_token: CancelToken | None = None
    ) -> RunOutcome:
        """Attach to an existing run and drive it to an end (tool rounds included).

        A run this controller (or its store) drove before is continued with its lifecycle and
        tool ledger: a tool call that ran is never run again; its recorded output is submitted
        if the run still waits for it.
        """
        self._check_ids(thread_id=thread_id, run_id=run_id)
        drive, runner, flow = self._attach(thread_id, run_id, cancel_token)
        outcome: RunOutcome = self._outcome_of(drive, runner, flow)
        self._claims.keep(outcome)
        if outcome.ending.terminal:
            self._claims.release(thread_id, run_id)
        return outcome

    def cancel(self, *, thread_id: str, run_id: str) -> RunOutcome:
        """Cancel a run and follow it until it ends or the cancelling deadline passes.

        A cancel that loses the race to another terminal status is reported with
        ``outcome.cancel_lost_race``, not raised.
        """
        self._check_ids(thread_id=thread_id, run_id=run_id)
        drive, runner = self._new_drive(thread_id, run_id)
        outcome: RunOutcome = self._outcome_of(drive, runner, drive.cancel())
        if outcome.ending.terminal:
            self._claims.release(thread_id, run_id)
        return outcome

    def recover(self) -> list[RunOutcome]:
        """Continue after a crash from the store: every pending run, then every unbound create.

        For each run saved as not terminal, the lifecycle and ledger are restored and the server
        is read: a call whose effect is unknown (``started`` without ``finished``) is never run
        again and is reported (``unknown_effect``); recorded outputs are submitted when the run
        still waits for them, or marked delivered when it moved on; a run the server no longer
        knows (404) is reported ``lost_handle`` and closed in the store, never recreated. A create
        intent without a run id is looked up by its ``op_id`` on the thread and adopted.

        Returns:
            One outcome per pending run and per unbound create (``not_created`` when no run
            carries its ``op_id``: the create never got in; ``outcome_unknown`` when the run
            list failed for good: the intent stays open for the next ``recover()``).

        Raises:
            RuntimeError: the controller has no store.
        """
        outcomes: list[RunOutcome] = []
        for drive, runner, flow in self._recovery():
            outcome: RunOutcome = self._outcome_of(drive, runner, flow)
            self._claims.settle(drive.scope, drive.run_id, outcome)
            outcomes.append(outcome)
        return outcomes

    def events(
        self,
        *,
        thread_id: str,
        run_id: str | None = None,
        assistant_id: str | None = None,
        stream: bool | None = None,
        cancel_token: CancelToken | None = None,
        **create_args: Any,
    ) -> Iterator[RunEvent]:
        """Drive a run (created when ``assistant_id`` is given, else ``run_id``), yielding events.

        Yields a :class:`StatusChanged` on every status change, :class:`StepCompleted` and
        :class:`MessageCompleted` for each newly completed step or message, tool round events,
        and finally one :class:`RunFinished` with the outcome.
        """
        drive, runner = self._new_drive(
            thread_id, run_id or "", stream=stream, watch=True, cancel_token=cancel_token
        )
        if assistant_id is not None:
            flow = drive.create({"assistant_id": assistant_id, **create_args})
        else:
            self._check_ids(thread_id=thread_id, run_id=run_id or "")
            flow = drive.attach()
        for event in self._events_of(drive, runner, flow):
            yield event

    def watch(
        self, *, thread_id: str, run_id: str, cancel_token: CancelToken | None = None
    ) -> Iterator[RunEvent]:
        """Follow an existing run without acting on it, yielding the events of :meth:`events`.

        Read-only: no tool runs, nothing is submitted or cancelled, the store is not written. A
        deadline of the controller's config ends the watch (``outcome.deadline``) and leaves the
        run as it is; set ``cancel_token`` to stop watching (``outcome.ending.kind`` is
        ``interrupted``).
        """
        self._check_ids(thread_id=thread_id, run_id=run_id)
        drive, runner = self._new_drive(
            thread_id, run_id, watch=True, cancel_token=cancel_token, observe_only=True
        )
        for event in self._events_of(drive, runner, drive.attach()):
            yield event
