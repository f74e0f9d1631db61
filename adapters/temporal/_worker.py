"""The worker: the workflow and the activities of one task queue, in one process.

Theory of operation
-------------------
A worker polls one task queue for workflow tasks (replaying and advancing
:class:`~adapters.temporal.LifecycleWorkflow`) and activity tasks (API calls and tool calls). Any
number of worker processes may serve the same queue; Temporal hands a dead worker's tasks to the
others. :func:`build_worker` installs the tool registry for the queue (the workflows read its
schemas, see ``_registry.py``) and configures the sandbox: ``lifecycle``, ``transitions``,
``pydantic`` and the modules the workflow imports pass through it (imported once per process,
not once per workflow run), which is safe because the kernel reads no clock and does no I/O.

:func:`run_worker` is ``lifecycle worker``: it connects, builds the SDK client from the
environment's settings (``OPENAI_BASE_URL``, ``OPENAI_API_KEY``), prints one ready line, and
runs until SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import timedelta

from openai import AsyncOpenAI
from temporalio.client import Client
from temporalio.worker import Replayer, Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from adapters.temporal import _registry
from adapters.temporal._activities import LifecycleActivities, pause
from adapters.temporal._workflow import LifecycleWorkflow
from lifecycle import ToolRegistry

__all__ = ["PASSTHROUGH", "build_worker", "replayer", "run_worker", "sandbox_runner"]

#: modules shared between the sandbox and the worker (deterministic, or never called inside)
PASSTHROUGH = (
    "lifecycle",
    "transitions",
    "pydantic",
    "pydantic_core",
    "openai",
    "httpx2",
    "anyio",
    "adapters.openai",
    "adapters.store",
    "adapters.temporal._registry",
    "adapters.temporal._data",
)


def sandbox_runner() -> SandboxedWorkflowRunner:
    """The workflow sandbox with :data:`PASSTHROUGH` passed through."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules(*PASSTHROUGH)
    return SandboxedWorkflowRunner(restrictions=restrictions)


#: the build id of :func:`replayer` (its workflows run on the task queue ``replay-<build id>``)
REPLAY_BUILD_ID = "lifecycle-replay"


def replayer(tools: ToolRegistry) -> Replayer:
    """A :class:`Replayer` of the workflow with the worker's sandbox and ``tools`` (the
    registry the recorded runs were served; replay tests and non-determinism checks)."""
    _registry.install(f"replay-{REPLAY_BUILD_ID}", tools)
    return Replayer(
        workflows=[LifecycleWorkflow],
        workflow_runner=sandbox_runner(),
        build_id=REPLAY_BUILD_ID,
    )


def build_worker(
    client: Client,
    *,
    task_queue: str,
    tools: ToolRegistry,
    openai_client: AsyncOpenAI,
    max_concurrent_activities: int | None = None,
    sticky_timeout_s: float = 10.0,
    identity: str | None = None,
) -> Worker:
    """A worker of ``task_queue`` serving the workflow and both activities.

    Args:
        client: the Temporal client.
        task_queue: the queue (every worker of it must serve the same registry).
        tools: the tool registry.
        openai_client: the SDK client for the API activity (its retries are turned off).
        max_concurrent_activities: activities run at once (Temporal's default when ``None``).
        sticky_timeout_s: how long a workflow task waits for the worker that has the workflow
            cached before any worker may take it (after a worker died: the takeover delay).
        identity: the worker's identity (Temporal's ``pid@host`` by default).
    """
    _registry.install(task_queue, tools)
    activities = LifecycleActivities(openai_client, tools)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[LifecycleWorkflow],
        activities=[activities.api_call, activities.run_tool, pause],
        workflow_runner=sandbox_runner(),
        max_concurrent_activities=max_concurrent_activities,
        sticky_queue_schedule_to_start_timeout=timedelta(seconds=sticky_timeout_s),
        identity=identity,
    )


async def run_worker(
    target: str,
    *,
    task_queue: str,
    tools: ToolRegistry,
    namespace: str = "default",
    base_url: str | None = None,
    api_key: str | None = None,
    max_concurrent_activities: int | None = None,
    sticky_timeout_s: float = 10.0,
) -> None:
    """Serve ``task_queue`` until SIGINT or SIGTERM (``lifecycle worker``)."""
    client = await Client.connect(target, namespace=namespace)
    openai_client = AsyncOpenAI(
        base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
        api_key=api_key or os.environ.get("OPENAI_API_KEY") or "missing-key",
    )
    worker = build_worker(
        client,
        task_queue=task_queue,
        tools=tools,
        openai_client=openai_client,
        max_concurrent_activities=max_concurrent_activities,
        sticky_timeout_s=sticky_timeout_s,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with worker:
        print(
            f"worker ready: task queue {task_queue} on {target}, tools {list(tools.names)}, "
            f"pid {os.getpid()}",
            flush=True,
        )
        await stop.wait()
    print("worker stopped", file=sys.stderr, flush=True)
    await openai_client.close()
