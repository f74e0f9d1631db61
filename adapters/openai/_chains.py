"""What the Responses chain controllers add to the shared base: one drive of the kernel per chain
with the Responses binding, the first create's arguments, and the chain outcome and events."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from adapters.openai._base import ControllerBase, is_chain_intent
from adapters.openai._chain_outcome import ChainEvent, ChainFinished, ResponseOutcome, chain_event
from adapters.openai._tools import ToolRunner
from lifecycle import RESPONSE_CHAIN
from lifecycle.kernel import CancelSignal, Drive, DriveResult, Flow, ResponsesBinding
from lifecycle.kernel._drive import new_op_id

__all__ = ["ChainsBase"]


class ChainsBase(ControllerBase):
    """The Responses part of :class:`ResponseController` and :class:`AsyncResponseController`."""

    def _new_chain(
        self,
        *,
        run_id: str = "",
        stream: bool | None = None,
        cancel_token: CancelSignal | None = None,
        allowed_tools: Collection[str] | None = None,
        op_id: str | None = None,
        observe_only: bool = False,
    ) -> tuple[Drive, ToolRunner, str]:
        """A drive of a chain; its scope is the chain's create-intent id (one chain per scope)."""
        scope = op_id or new_op_id(self.rng)
        drive = Drive(
            ResponsesBinding(stream_timeout=self.config.stream_idle_timeout_s),
            config=self.config,
            scope=scope,
            run_id=run_id,
            now=self.clock(),
            wall=self.wall_clock(),
            tools=self.tools,
            allowed_tools=allowed_tools if allowed_tools is not None else self.allowed_tools,
            hooks=self.hooks,
            rng=self.rng,
            stream=self.stream if stream is None else stream,
            durable=self.store is not None and not observe_only,
            cancel_signal=cancel_token,
            observe_only=observe_only,
        )
        return drive, ToolRunner(self.tools, self._redact), scope

    def _recovery(self) -> list[tuple[Drive, ToolRunner, Flow]]:
        """One drive per pending chain of the store (its current response), then one per chain
        whose first create has no known response (``outcome_unknown``: never created again).

        Raises:
            RuntimeError: the controller has no store.
        """
        store = self.store
        if store is None:
            raise RuntimeError("recover() needs a controller built with store=RunStore(...)")
        plans: list[tuple[Drive, ToolRunner, Flow]] = []
        for stored in store.pending():
            if stored.snapshot.lifecycle != RESPONSE_CHAIN.name:
                continue
            drive, runner, _ = self._new_chain(run_id=stored.run_id, op_id=stored.thread_id)
            plans.append((drive, runner, self._resume(drive, stored)))
        for intent in store.unbound_creates():
            if is_chain_intent(intent):
                drive, runner, _ = self._new_chain(op_id=intent.op_id)
                plans.append((drive, runner, drive.adopt_create(intent.op_id)))
        return plans

    def _create_args(
        self,
        model: str,
        input: Any,
        instructions: str | None,
        allowed_tools: Collection[str] | None,
        extra: Mapping[str, Any],
    ) -> dict[str, Any]:
        """The first create's arguments: the user's, with the registry's function tools added."""
        if not isinstance(model, str) or not model:
            raise ValueError(f"model must be a non-empty string, not {model!r}")
        if "background" in extra and extra["background"] is not True:
            raise ValueError("a chain is driven in background mode: background must be True")
        args: dict[str, Any] = {k: v for k, v in extra.items() if k != "background"}
        if "previous_response_id" in args or "conversation" in args:
            raise ValueError(
                "previous_response_id and conversation are the controller's: start a new chain "
                "with model and input only"
            )
        args["model"] = model
        args["input"] = input
        if instructions is not None:
            args["instructions"] = instructions
        if self.tools is not None and len(self.tools):
            names = allowed_tools if allowed_tools is not None else self.allowed_tools
            functions = self.tools.response_definitions(names)
            args["tools"] = [*args.get("tools", []), *functions]
        return args

    @staticmethod
    def _finished(result: DriveResult) -> ChainEvent:
        """The last event of a chain drive: :class:`ChainFinished` with its outcome."""
        return ChainFinished(ResponseOutcome.from_result(result))

    @staticmethod
    def _public(event: Any) -> ChainEvent | None:
        """The public event for a kernel event."""
        return chain_event(event)
