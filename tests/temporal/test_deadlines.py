"""Deadlines on the time-skipping test server: ten minutes of workflow time in a few seconds.

The kernel's waits longer than ``local_sleep_below_s`` are durable timers, and the test server
skips time while the workflow only waits on timers. A simulator that asks for 30 s between polls
keeps the number of (real) API activities small, so the 600 s ``in_progress`` deadline passes
after about twenty polls, the drive cancels the run, and the report says which deadline passed.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from typing import Any

import openai
import pytest

from adapters.simulator import (
    CancelBehaviour,
    Hang,
    Queue,
    Scenario,
    Simulator,
    SimulatorServer,
    Work,
)
from tests.temporal.conftest import API_KEY, TEST_SERVER, new_thread
from tests.temporal.helpers import in_process_worker, new_queue
from tests.temporal.tools import ORDER_TOOLS

Aio = Callable[[Awaitable[Any]], Any]


@pytest.fixture(scope="module")
def skip_env(aio: Aio) -> Iterator[Any]:
    """The time-skipping test server (the pip-installed Java binary)."""
    from temporalio.testing import WorkflowEnvironment

    env = aio(
        WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=TEST_SERVER,
            # the default 5 s is not always enough on a loaded 2-core machine
            test_server_startup_timeout=timedelta(seconds=60),
        )
    )
    yield env
    aio(env.shutdown())


@pytest.fixture(scope="module")
def slow_server() -> Iterator[SimulatorServer]:
    """A simulator that asks clients to wait 30 s between polls. Its clock is real while the
    workflow's skips ahead, so its runs confirm a cancel at once."""
    sim = Simulator(poll_after_ms=30_000)
    sim.add_scenario("stuck", Scenario((Queue(), Work(), Hang()), CancelBehaviour(0.0)))
    with SimulatorServer(sim) as served:
        yield served


def test_a_ten_minute_status_deadline_passes_in_seconds(
    aio: Aio, skip_env: Any, slow_server: SimulatorServer
) -> None:
    """A run stuck in_progress: the 600 s deadline passes in workflow time, the drive sends one
    cancel, and the run ends cancelled with ``deadline == "in_progress"``."""
    client = openai.OpenAI(base_url=slow_server.base_url, api_key=API_KEY, max_retries=0)
    assistant, thread = new_thread(client, "stuck", ORDER_TOOLS.definitions())
    client.close()

    async def go() -> Any:
        queue = new_queue("deadline")
        async with in_process_worker(
            skip_env.client, slow_server, ORDER_TOOLS, queue, config=None
        ) as runs:
            handle = await runs.start_run(thread_id=thread, assistant_id=assistant)
            return await handle.result()

    began = time.monotonic()
    report = aio(go())
    wall = time.monotonic() - began
    assert report.ending == "deadline"
    assert report.deadline == "in_progress"
    assert report.status == "cancelled"
    assert report.cancel_requested
    cancels = slow_server.sim.request_count("POST", f"/v1/threads/{thread}/runs/*/cancel")
    assert cancels == 1
    seconds = report.history[-1]["at"] - report.history[0]["at"]
    assert seconds >= 600, "the deadline is measured in workflow time"
    assert wall < 30, f"ten minutes of workflow time took {wall:.1f} s of wall time"
