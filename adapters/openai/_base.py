"""What every controller shares: typed settings, clocks, the store, carrying out the kernel's
store requests and logging its notices.

Everything here is free of I/O waits. ``_runs.py`` adds what Assistants runs need (threads,
recovery), ``_chains.py`` what Responses chains need; the twins (``_async/`` is the source,
``_sync/`` is generated from it) only differ in how they perform a request.
"""

from __future__ import annotations

import functools
import logging
import random
import time
from collections.abc import Callable, Collection
from typing import Any

from adapters.openai._errors import CRASH_POINTS
from adapters.openai._logging import logger
from adapters.openai._webhooks import WebhookInbox
from adapters.store import CreateIntent, EffectPhase, RunStore, StoredRun
from lifecycle import ApprovalRequest, Hooks, ToolRegistry
from lifecycle.kernel import (
    BeginCreate,
    BindCreate,
    CloseRun,
    ControllerConfig,
    Drive,
    Flow,
    Notice,
    RecordEffect,
    SaveRun,
    StatusSeen,
)

__all__ = ["ControllerBase", "is_chain_intent", "key_redactor"]


class ControllerBase:
    """Settings shared by every controller (runs and chains, sync and async).

    Args:
        tools: the tool registry (default: none; every tool call gets an ``unknown_tool`` output).
        config: poll, deadline, retry and tool settings (:class:`ControllerConfig`).
        hooks: lifecycle hooks passed to every run's :class:`lifecycle.RunLifecycle`.
        allowed_tools: the tool names allowed by default (``None``: all registered).
        stream: follow runs through the streaming API by default.
        clock: a monotonic clock in seconds, for deadlines.
        wall_clock: epoch seconds, for ``expires_at`` budgets and journal times.
        rng: the random source for backoff jitter and create-intent ids.
        store: a durable :class:`~adapters.store.RunStore`: the create intent is recorded before
            the create, the lifecycle and ledger after every change, and each tool call's effect
            ``started``/``finished`` around it; ``recover()`` continues after a crash.
        crash_at: a named crash point (tests only): raise :class:`CrashPoint` there.
        approver: the approval hook (see :mod:`lifecycle._approval`): asked about every call of
            a tool registered ``needs_approval`` and every MCP approval request, before the
            round runs; ``None`` answers hold the drive (``held``). Without a hook every such
            call is undecided.
        webhooks: a :class:`~adapters.openai.WebhookInbox`: waits between polls end early when
            a verified webhook about the followed object arrives (real-time waits).
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
        approver: Callable[[ApprovalRequest], Any] | None = None,
        webhooks: WebhookInbox | None = None,
    ) -> None:
        if webhooks is not None and not isinstance(webhooks, WebhookInbox):
            raise TypeError(f"webhooks must be a WebhookInbox, not {type(webhooks).__name__}")
        if approver is not None and not callable(approver):
            raise TypeError(f"approver must be callable, not {type(approver).__name__}")
        if crash_at is not None and crash_at not in CRASH_POINTS:
            raise ValueError(f"unknown crash point {crash_at!r}; one of {sorted(CRASH_POINTS)}")
        if config is not None and not isinstance(config, ControllerConfig):
            raise TypeError(f"config must be a ControllerConfig, not {type(config).__name__}")
        if tools is not None and not isinstance(tools, ToolRegistry):
            raise TypeError(f"tools must be a ToolRegistry, not {type(tools).__name__}")
        if store is not None and not isinstance(store, RunStore):
            raise TypeError(f"store must be a RunStore, not {type(store).__name__}")
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
        self.approver = approver
        self.webhooks = webhooks
        self._redact: Callable[[str], str] | None = None

    @staticmethod
    def _check_ids(**ids: Any) -> None:
        """Each id must be a non-empty string (one clear error instead of a 404 later)."""
        for name, value in ids.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{name} must be a non-empty string, not {value!r}")

    def _resume(self, drive: Drive, stored: StoredRun) -> Flow:
        """Resume a run (or a chain's response) saved in the store, with its effect log."""
        assert self.store is not None
        effects = self.store.effects(stored.run_id)
        return drive.resume(
            stored.restore(hooks=self.hooks),
            stored.ledger,
            op_id=stored.op_id,
            started={e.tool_call_id for e in effects if e.phase is EffectPhase.STARTED},
            unfinished=self.store.unknown_effects(stored.run_id),
            submitted={e.tool_call_id for e in effects if e.phase is EffectPhase.SUBMITTED},
        )

    # -- carrying out requests that need no waiting --------------------------------------------

    def _store_action(self, request: Any) -> Callable[[], Any]:
        """The store call for a kernel store request."""
        store = self.store
        assert store is not None
        kind = type(request)
        if kind is SaveRun:
            return functools.partial(
                store.save,
                request.run_id,
                thread_id=request.scope,
                lifecycle=request.snapshot,
                ledger=request.ledger,
                op_id=request.op_id,
                supersedes=request.supersedes,
            )
        if kind is RecordEffect:
            phase = EffectPhase(request.phase)
            return functools.partial(
                store.record_effect, request.run_id, request.call_id, phase, detail=request.detail
            )
        if kind is BeginCreate:
            return functools.partial(_begin_create, store, request.op_id, request.scope)
        if kind is BindCreate:
            return functools.partial(store.bind_create, request.op_id, request.run_id)
        if kind is CloseRun:
            return functools.partial(store.close_run, request.run_id, request.reason)
        raise TypeError(f"not a store request: {request!r}")  # pragma: no cover

    @staticmethod
    def _log(event: Any, scope: str) -> None:
        """Log a kernel notice, or a status change (structured ``extra`` fields, redacted)."""
        if type(event) is Notice:
            if logger.isEnabledFor(event.level):
                logger.log(event.level, event.message, extra={**event.fields, "thread_id": scope})
        elif type(event) is StatusSeen and logger.isEnabledFor(logging.INFO):
            for e in event.entries:
                logger.info(
                    "transition",
                    extra={
                        "run_id": event.run_id,
                        "source": e.source,
                        "dest": e.dest,
                        "via": e.via,
                        "inferred": e.inferred,
                    },
                )

    def __repr__(self) -> str:
        tools = list(self.tools.names) if self.tools is not None else []
        durable = self.store is not None
        return f"<{type(self).__name__} tools={tools} stream={self.stream} durable={durable}>"


def _begin_create(store: RunStore, op_id: str, thread_id: str) -> None:
    if store.create_intent(op_id) is None:  # a caller's own op_id may be retried
        store.begin_create(op_id, thread_id)


def is_chain_intent(intent: CreateIntent) -> bool:
    """Whether a create intent is a Responses chain's (its scope is the chain: its own op id)."""
    return intent.thread_id == intent.op_id


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
