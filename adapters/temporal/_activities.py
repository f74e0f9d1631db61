"""The activities: the I/O a workflow asks for, done by whichever worker picks it up.

Theory of operation
-------------------
Two activities, registered by name (the workflow never imports the SDK):

* ``lifecycle.api_call`` sends one kernel request with the worker's ``openai.AsyncOpenAI`` client
  (retries off: the kernel is the one retry layer), through the same seam as the in-process
  controllers (``adapters.openai._wire.send_async``), and converts an SDK exception once with
  ``failure_of``. It answers a :class:`WireAnswer`: the response, or the failure without its
  ``cause``. An exception it cannot convert is a bug and fails the activity.
* ``lifecycle.run_tool`` runs one tool call: it prepares the call again with the worker's
  registry, runs it within its budget exactly as the in-process async controller does
  (``run_tools_async``: async tools awaited, sync tools in a thread), and answers the formatted
  output (redacted of the worker's API key). A tool that raises is an error *output*, not a failed
  activity; a tool past its budget answers ``tool_timeout``.

A third, ``lifecycle.pause``, runs as a *local* activity: the workflow's short waits (a poll
backoff of 50 ms) sleep in the worker that runs the workflow, recorded as one marker.

The first two heartbeat while they wait (every third of their heartbeat timeout, starting after one
third, so a quick request sends none): a worker that dies with an activity in hand is noticed
within the heartbeat timeout, not the start-to-close one. The workflow starts every activity with
one attempt: Temporal never runs a tool (or resends a request) by itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from openai import AsyncOpenAI
from temporalio import activity

from adapters.openai._base import key_redactor
from adapters.openai._tools import ToolRunner, run_tools_async
from adapters.openai._wire import failure_of, send_async
from adapters.temporal._data import (
    API_CALL,
    PAUSE,
    RUN_TOOL,
    ToolAnswer,
    ToolTask,
    WireAnswer,
    WireFailure,
    WireRequest,
)
from lifecycle import ToolCall, ToolRegistry
from lifecycle.kernel import HttpResponse, RunTools

__all__ = ["LifecycleActivities", "pause"]

T = TypeVar("T")


class LifecycleActivities:
    """The activities of one worker.

    Args:
        client: the SDK client (its retries are turned off here).
        tools: the worker's tool registry.
    """

    def __init__(self, client: AsyncOpenAI, tools: ToolRegistry) -> None:
        if not isinstance(client, AsyncOpenAI):
            raise TypeError(f"client must be an openai.AsyncOpenAI, not {type(client).__name__}")
        self.client = client.with_options(max_retries=0)
        self.tools = tools
        self._redact = key_redactor(client.api_key)

    @activity.defn(name=API_CALL)
    async def api_call(self, request: WireRequest) -> WireAnswer:
        """Send one API request; its answer or its failure."""
        try:
            value = await _heartbeating(send_async(self.client, request.http()))
        except Exception as exc:
            failure = failure_of(exc)
            if failure is None:
                raise
            return WireAnswer(failure=WireFailure.of(failure))
        if not isinstance(value, HttpResponse):  # pragma: no cover - streams are never asked
            raise TypeError("the API answered a request that is not a stream with a stream")
        return WireAnswer.of(value)

    @activity.defn(name=RUN_TOOL)
    async def run_tool(self, task: ToolTask) -> ToolAnswer:
        """Run one tool call within its budget; its formatted output."""
        call = ToolCall(task.call_id, task.name, task.arguments)
        prepared = self.tools.prepare(call, allowed=task.allowed)
        if prepared.error is not None:
            # the workflow prepared it with the same registry: this worker serves another one
            activity.logger.warning("tool call refused by this worker's registry: %s", call.name)
            return ToolAnswer.of(prepared.error)
        runner = ToolRunner(self.tools, self._redact)
        request = RunTools((prepared,), max(task.budget, 0.0), 1)
        (result,) = await _heartbeating(run_tools_async(request, runner))
        return ToolAnswer.of(result.output, timed_out=result.timed_out)


@activity.defn(name=PAUSE)
async def pause(seconds: float) -> None:
    """Sleep ``seconds`` (a local activity: the workflow's short waits)."""
    if seconds > 0:
        await asyncio.sleep(seconds)


async def _heartbeating(work: Awaitable[T]) -> T:
    """Await ``work``, heartbeating every third of the activity's heartbeat timeout."""
    timeout = activity.info().heartbeat_timeout
    task = asyncio.ensure_future(work)
    if timeout is None:
        return await task
    every = max(timeout.total_seconds() / 3, 0.05)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every)
            if done:
                return task.result()
            activity.heartbeat()
    finally:
        if not task.done():
            task.cancel()
