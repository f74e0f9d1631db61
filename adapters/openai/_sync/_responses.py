# Generated from adapters/openai/_async/_responses.py by scripts/unasync.py: do not edit;
# change the async source and run `python scripts/unasync.py`.
"""The sync controller of Responses API chains: background responses, tool rounds, one drive.

Written once, as async code; the sync twin is generated from it by ``scripts/unasync.py``. A
chain is driven by the kernel with ``ResponsesBinding`` (see ``lifecycle/kernel/_responses.py``
for what the API lets a client know, and what the controller does about it).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Iterator
from typing import Any

from openai import OpenAI

from adapters.openai._backends import SyncBackend
from adapters.openai._base import key_redactor
from adapters.openai._chain_outcome import ChainEvent, ResponseOutcome
from adapters.openai._chains import ChainsBase
from adapters.openai._sync._pump import SyncPump
from adapters.openai._token import CancelToken
from adapters.openai._webhooks import WebhookInbox
from adapters.store import RunStore
from lifecycle import Approver, Hooks, ToolRegistry
from lifecycle.kernel import ControllerConfig

__all__ = ["ResponseController"]


class ResponseController(ChainsBase, SyncPump):
    """Drive Responses API background chains with an ``openai.OpenAI`` client.

    A run that uses tools is a chain of background responses: the controller creates the first
    (``background=True``), polls it (or streams it), runs the tools a completed response asks
    for (through the registry, concurrently, each call at most once), creates the next response
    with ``previous_response_id`` and every output, and so on until the chain ends.

    Args:
        client: the SDK client (used with ``max_retries=0``: the controller is the one retry
            layer).
        tools: the tool registry (its tools are sent in the Responses function shape).
        config: poll, deadline, retry and tool settings (:class:`ControllerConfig`).
        hooks: lifecycle hooks passed to every chain's :class:`lifecycle.RunLifecycle`.
        allowed_tools: the tool names allowed by default (``None``: all registered).
        stream: follow chains through the streaming API by default.
        clock: a monotonic clock in seconds, for deadlines.
        wall_clock: epoch seconds, for journal times.
        rng: the random source for backoff jitter and create-intent ids.
        store: a durable :class:`~adapters.store.RunStore`.
        crash_at: a named crash point (tests only).
        approver: the approval hook, asked before a call of a tool registered
            ``needs_approval`` (or an MCP approval request) goes ahead: a :class:`Decision`,
            ``True``/``False``, or ``None`` (undecided: the drive ends ``held``); a coroutine
            function works too.
        webhooks: a :class:`WebhookInbox` your webhook endpoint feeds: a verified
            ``response.*`` event ends the wait before the next poll (journaled ``via="webhook"``),
            so ``poll_interval_s`` can be long.
        sleep: how to wait (tests pass one that moves a fake clock).

    Example::

        controller = ResponseController(openai.OpenAI(), tools=registry)
        out = controller.run(model="gpt-4o-mini", input="What does my order cost?")
        print(out.status, out.output_text)
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
        sleep: Callable[[float], None] = time.sleep,
        approver: Approver | None = None,
        webhooks: WebhookInbox | None = None,
    ) -> None:
        ChainsBase.__init__(
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
            webhooks=webhooks,
        )
        self._io = SyncBackend.for_client(client, self.config.request_timeout_s, sleep)
        self._redact = key_redactor(client.api_key)

    def run(
        self,
        *,
        model: str,
        input: Any,
        instructions: str | None = None,
        cancel_token: CancelToken | None = None,
        stream: bool | None = None,
        allowed_tools: Collection[str] | None = None,
        **create_args: Any,
    ) -> ResponseOutcome:
        """Start a chain and drive it to an end.

        Args:
            model: the model.
            input: the user's input (a string or input items), sent with the first response.
            instructions: sent with every response of the chain (``previous_response_id`` does
                not carry them over).
            cancel_token: set it (from a hook or another thread) to cancel the chain.
            stream: follow the chain by streaming (default: the controller's setting).
            allowed_tools: restrict the registry's tools for this chain.
            **create_args: passed to every create of the chain (``metadata``, ``temperature``,
                ``background_options``, built-in ``tools``...).

        Returns:
            The outcome; a failed, cancelled or incomplete chain is not an error.

        Raises:
            ValueError: ``model`` is missing, or an argument the controller owns was given
                (``previous_response_id``, ``conversation``, ``background=False``).
            openai.APIError: the first create failed for good, or its answer was lost (the
                response may exist; it is never created again: see the docs).
        """
        args = self._create_args(model, input, instructions, allowed_tools, create_args)
        drive, runner, scope = self._new_chain(
            stream=stream, cancel_token=cancel_token, allowed_tools=allowed_tools
        )
        outcome: ResponseOutcome = self._outcome_of(drive, runner, drive.create(args, op_id=scope))
        return outcome

    def drive(
        self, *, response_id: str, cancel_token: CancelToken | None = None
    ) -> ResponseOutcome:
        """Follow an existing chain from its latest response to its end (tool rounds included)."""
        self._check_ids(response_id=response_id)
        drive, runner, _ = self._new_chain(run_id=response_id, cancel_token=cancel_token)
        outcome: ResponseOutcome = self._outcome_of(drive, runner, drive.attach())
        return outcome

    def cancel(self, *, response_id: str) -> ResponseOutcome:
        """Cancel a background response and follow it to its end (``cancel_lost_race`` when it
        ended otherwise first)."""
        self._check_ids(response_id=response_id)
        drive, runner, _ = self._new_chain(run_id=response_id)
        outcome: ResponseOutcome = self._outcome_of(drive, runner, drive.cancel())
        return outcome

    def recover(self) -> list[ResponseOutcome]:
        """Continue every chain the store holds as pending after a crash.

        Each chain goes on from its latest saved response: a tool call whose effect is unknown
        (``started`` without ``finished``) is never run again and holds the chain
        (``ending.kind == "held"``); recorded outputs are sent in the next response unless an
        earlier process may already have sent them (``outcome_unknown``: the Responses API has
        no way to check, so nothing is sent twice). A chain whose first create has no known
        response ends ``outcome_unknown`` too (there is no ``responses.list``; the response, if
        any, carries the chain's ``metadata.op_id``).

        Raises:
            RuntimeError: the controller has no store.
        """
        outcomes: list[ResponseOutcome] = []
        for drive, runner, flow in self._recovery():
            outcome: ResponseOutcome = self._outcome_of(drive, runner, flow)
            outcomes.append(outcome)
        return outcomes

    def events(
        self,
        *,
        model: str,
        input: Any,
        instructions: str | None = None,
        cancel_token: CancelToken | None = None,
        stream: bool | None = None,
        **create_args: Any,
    ) -> Iterator[ChainEvent]:
        """Start a chain and drive it, yielding events: :class:`ResponseChanged` on every status
        change, tool round events, and finally :class:`ChainFinished` with the outcome."""
        args = self._create_args(model, input, instructions, None, create_args)
        drive, runner, scope = self._new_chain(stream=stream, cancel_token=cancel_token)
        for event in self._events_of(drive, runner, drive.create(args, op_id=scope)):
            yield event

    def watch(
        self, *, response_id: str, cancel_token: CancelToken | None = None
    ) -> Iterator[ChainEvent]:
        """Follow an existing response (and the chain it grows into) without acting on it.

        Read-only: no tool runs, no next response is created, nothing is cancelled. A deadline
        ends the watch and leaves the response as it is; set ``cancel_token`` to stop watching.
        """
        self._check_ids(response_id=response_id)
        drive, runner, _ = self._new_chain(
            run_id=response_id, cancel_token=cancel_token, observe_only=True
        )
        for event in self._events_of(drive, runner, drive.attach()):
            yield event
