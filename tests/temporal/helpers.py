"""Helpers of the Temporal tests: an in-process worker, unique task queues, recorded histories."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import openai
from temporalio.client import Client, WorkflowHistory

from adapters.simulator import SimulatorServer
from adapters.temporal import LifecycleClient, TemporalOptions, build_worker
from lifecycle import ToolRegistry
from lifecycle.kernel import ControllerConfig
from tests.temporal.conftest import API_KEY

__all__ = [
    "HISTORIES",
    "QUICK",
    "calls_by_state",
    "in_process_worker",
    "new_queue",
    "record_history",
]

#: where recorded histories live (replayed by test_replay.py)
HISTORIES = Path(__file__).parent / "histories"

#: kernel settings for loopback runs: no message listing only where a test says so
QUICK = ControllerConfig(poll_interval_s=0.2)

_COUNTER = itertools.count()


def new_queue(name: str) -> str:
    """A task queue of its own for one test (registries are installed per queue)."""
    return f"lifecycle-test-{name}-{os.getpid()}-{next(_COUNTER)}"


@contextlib.asynccontextmanager
async def in_process_worker(
    client: Client,
    server: SimulatorServer,
    tools: ToolRegistry,
    task_queue: str,
    *,
    options: TemporalOptions | None = None,
    config: ControllerConfig | None = QUICK,
) -> AsyncIterator[LifecycleClient]:
    """A worker of ``task_queue`` in this process, and a client that starts runs on it."""
    sdk = openai.AsyncOpenAI(base_url=server.base_url, api_key=API_KEY)
    worker = build_worker(client, task_queue=task_queue, tools=tools, openai_client=sdk)
    try:
        async with worker:
            yield LifecycleClient(client, task_queue=task_queue, config=config, options=options)
    finally:
        await sdk.close()


def record_history(name: str, history: WorkflowHistory) -> None:
    """Write ``history`` to ``HISTORIES/name.json`` when ``LIFECYCLE_RECORD_HISTORIES=1``
    (worker identities, which name the machine, are replaced)."""
    if os.environ.get("LIFECYCLE_RECORD_HISTORIES") != "1":
        return
    HISTORIES.mkdir(exist_ok=True)
    text = re.sub(r'"identity":\s*"[^"]*"', '"identity": "worker"', history.to_json())
    text = re.sub(r'"\d+@[^"]*"', '"worker"', text)  # sticky queues: pid@host-...
    (HISTORIES / f"{name}.json").write_text(text, encoding="utf-8")


def calls_by_state(report: Any) -> dict[str, str]:
    """``{call_id: state}`` of a report."""
    return {c["id"]: c["state"] for c in report.tool_calls}
