"""Worker crashes across processes: the dev server, two ``lifecycle worker`` processes, SIGKILL.

The workers are real processes started the way the README says (``python -m adapters.cli worker
--temporal HOST:PORT --task-queue Q --tools tests.temporal.tools:SALES``), talking to the
simulator on loopback with the real ``openai`` client. ``record_sale`` is not idempotent: every
execution writes ``start`` (before its effect) and ``end`` to a log shared by both processes.

* Killed in the middle of the tool: the other worker takes the workflow over; the tool activity
  never answered, so the call is an unknown effect: never run again, its output never submitted,
  the drive ends ``held`` and says which call.
* Killed in the middle of polling (the worker that holds the workflow, after the tool round):
  the other worker replays the history (the completed tool activity is not run again) and polls
  the run to its end; the one output was submitted once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from temporalio.api.enums.v1 import EventType

from adapters.simulator import (
    Answer,
    CallTools,
    Queue,
    Scenario,
    SimulatorServer,
    ToolCallSpec,
    Work,
)
from adapters.temporal import LifecycleClient, TemporalOptions
from tests.temporal.conftest import API_KEY, new_thread
from tests.temporal.helpers import QUICK, new_queue
from tests.temporal.tools import SALES, read_sales

Aio = Callable[[Awaitable[Any]], Any]

ROOT = Path(__file__).resolve().parents[2]
#: a dead worker's activity is noticed after this; its workflow moves after the sticky timeout
OPTIONS = TemporalOptions(heartbeat_timeout_s=2.0, workflow_task_timeout_s=2.0)
STICKY_S = "1"


def sale(order: str) -> CallTools:
    return CallTools((ToolCallSpec.of("record_sale", {"order_id": order}),))


class Workers:
    """Two worker processes of one task queue."""

    def __init__(self, target: str, queue: str, env: dict[str, str]) -> None:
        self.queue = queue
        command = [
            sys.executable,
            "-m",
            "adapters.cli",
            "worker",
            "--temporal",
            target,
            "--task-queue",
            queue,
            "--tools",
            "tests.temporal.tools:SALES",
            "--sticky-timeout",
            STICKY_S,
        ]
        self.procs = [
            subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(2)
        ]
        for proc in self.procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert "worker ready" in line, f"the worker did not start: {line!r}"

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)
        next(p for p in self.procs if p.pid == pid).wait(10)

    def alive(self) -> list[int]:
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck worker
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def sales_log(tmp_path: Path) -> Path:
    return tmp_path / "sales.log"


@pytest.fixture
def workers(
    target: str, server: SimulatorServer, sales_log: Path, request: pytest.FixtureRequest
) -> Iterator[Workers]:
    seconds = getattr(request, "param", "0")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OPENAI_BASE_URL": server.base_url,
        "OPENAI_API_KEY": API_KEY,
        "LIFECYCLE_SALES_LOG": str(sales_log),
        "LIFECYCLE_SALE_SECONDS": seconds,
    }
    started = Workers(target, new_queue("crash"), env)
    yield started
    started.stop()


def _pid(identity: str) -> int:
    return int(identity.split("@", 1)[0])


def _wait(predicate: Callable[[], bool], what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@pytest.mark.parametrize("workers", ["4"], indirect=True)
def test_a_worker_killed_in_the_middle_of_a_tool_leaves_an_unknown_effect(
    aio: Aio,
    dev_env: Any,
    server: SimulatorServer,
    sync_client: openai.OpenAI,
    workers: Workers,
    sales_log: Path,
) -> None:
    server.sim.add_scenario("one-sale", Scenario((Queue(), sale("o-1"), Answer("{output}"))))
    assistant, thread = new_thread(sync_client, "one-sale", SALES.definitions())
    runs = LifecycleClient(dev_env.client, task_queue=workers.queue, config=QUICK, options=OPTIONS)
    handle = aio(runs.start_run(thread_id=thread, assistant_id=assistant))
    _wait(lambda: bool(read_sales(str(sales_log))), "the tool to start")
    (_, _, victim), *_ = read_sales(str(sales_log))
    workers.kill(victim)
    report = aio(handle.result())

    assert report.ending == "held", report.ending_text
    assert report.status == "requires_action"
    assert len(report.unknown_effects()) == 1
    executions = [row for row in read_sales(str(sales_log)) if row[0] == "start"]
    assert executions == [("start", "o-1", victim)], "run once, never again"
    assert [row for row in read_sales(str(sales_log)) if row[0] == "end"] == []
    assert server.sim.tool_outputs(report.run_id) == [], "an unknown effect is never answered"
    assert workers.alive() == [p for p in workers.pids if p != victim]


def test_a_worker_killed_in_the_middle_of_polling_is_taken_over(
    aio: Aio,
    dev_env: Any,
    server: SimulatorServer,
    sync_client: openai.OpenAI,
    workers: Workers,
    sales_log: Path,
) -> None:
    scenario = Scenario((Queue(), sale("o-2"), Queue(), Work(3.0), Answer("done: {output}")))
    server.sim.add_scenario("sale-then-work", scenario)
    assistant, thread = new_thread(sync_client, "sale-then-work", SALES.definitions())
    runs = LifecycleClient(dev_env.client, task_queue=workers.queue, config=QUICK, options=OPTIONS)
    handle = aio(runs.start_run(thread_id=thread, assistant_id=assistant))

    def polling() -> bool:
        state = aio(handle.state())
        return bool(state["round"] == 1 and state["status"] == "in_progress")

    _wait(polling, "the run to be polled after its tool round")
    victim = _holder(aio, handle)
    workers.kill(victim)
    report = aio(handle.result())

    assert report.ok, report.ending_text
    assert report.text == "done: sale o-2 recorded"
    assert [row[:2] for row in read_sales(str(sales_log))] == [("start", "o-2"), ("end", "o-2")]
    submitted = server.sim.tool_outputs(report.run_id)
    assert [[o.output for o in r] for r in submitted] == [["sale o-2 recorded"]]
    survivor = next(p for p in workers.pids if p != victim)
    assert _holder(aio, handle) == survivor, "the other worker finished the run"


def _holder(aio: Aio, handle: Any) -> int:
    """The pid of the worker that ran the workflow's last workflow task."""
    history = aio(handle.handle.fetch_history())
    started = [
        e.workflow_task_started_event_attributes.identity
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
    ]
    return _pid(started[-1])
