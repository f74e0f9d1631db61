"""What the sync and async controllers share: settings, clocks, and building a flow for a run."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection
from typing import Any

from adapters.openai._config import ControllerConfig
from adapters.openai._flow import CancelToken, FlowContext, RunFlow
from lifecycle import Hooks, ToolRegistry

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
    ) -> None:
        self.tools = tools
        self.config = config if config is not None else ControllerConfig()
        self.hooks = hooks
        self.allowed_tools = allowed_tools
        self.stream = stream
        self.clock = clock
        self.wall_clock = wall_clock
        self.rng = rng if rng is not None else random.Random()

    def _flow(
        self,
        thread_id: str,
        run_id: str | None = None,
        *,
        stream: bool | None = None,
        watch: bool = False,
        cancel_token: CancelToken | None = None,
        allowed_tools: Collection[str] | None = None,
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
        )
        return RunFlow(ctx, thread_id, run_id)

    @staticmethod
    def _entry(flow: RunFlow, assistant_id: str | None, create_args: dict[str, Any]) -> Any:
        if assistant_id is not None:
            return flow.create(assistant_id, create_args)
        return flow.attach()

    def __repr__(self) -> str:
        tools = list(self.tools.names) if self.tools is not None else []
        return f"<{type(self).__name__} tools={tools} stream={self.stream}>"
