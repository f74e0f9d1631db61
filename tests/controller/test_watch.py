"""End to end: ``watch`` follows a run or a response someone else drives, and never acts on it."""

from __future__ import annotations

from typing import Any

import anyio
import openai
import pytest

from adapters.openai import (
    AsyncResponseController,
    ChainFinished,
    ControllerConfig,
    ResponseChanged,
    ResponseController,
    RunFinished,
    StatusChanged,
)
from lifecycle.kernel import EndingKind
from tests.controller.conftest import API_KEY, Env, MakeDriver, quiet

MUTATING = ("POST",)


def posts_after(env: Env, start: int) -> list[str]:
    """The paths of the POST requests the simulator saw after request number ``start``."""
    return [r.path for r in env.sim.requests[start:] if r.method in MUTATING]


def test_watch_follows_a_run_to_its_end(make_driver: MakeDriver, env: Env) -> None:
    thread_id = env.thread()
    run_id = env.start_run(thread_id, "text")
    seen = len(env.sim.requests)
    events = make_driver().events("watch", thread_id=thread_id, run_id=run_id)
    statuses = [e.status for e in events if isinstance(e, StatusChanged)]
    assert statuses[-1] == "completed"
    finished = events[-1]
    assert isinstance(finished, RunFinished)
    assert finished.outcome.status == "completed"
    assert posts_after(env, seen) == []  # read only


def test_watch_never_answers_a_tool_call_and_leaves_the_run_waiting(
    make_driver: MakeDriver, env: Env
) -> None:
    """A watcher with the tools registered still runs none of them and submits nothing; its
    deadline ends the watch without a cancel, and the run keeps waiting on the server."""
    thread_id = env.thread()
    run_id = env.start_run(thread_id, "order-total")
    seen = len(env.sim.requests)
    driver = make_driver(config=ControllerConfig(deadlines={"requires_action": 2.0}))
    events = driver.events("watch", thread_id=thread_id, run_id=run_id)
    outcome = events[-1].outcome
    assert outcome.ending.kind is EndingKind.DEADLINE
    assert outcome.deadline == "requires_action"
    assert driver.tools is not None
    assert not outcome.tool_calls
    assert posts_after(env, seen) == []
    run = quiet(lambda: env.client.beta.threads.runs.retrieve(run_id, thread_id=thread_id))
    assert run.status == "requires_action"


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_watch_follows_a_response_and_never_answers_it(kind: str, env: Env) -> None:
    """A background response that ends waiting for a function's output: the watcher reports
    it and creates no next response."""
    first = env.client.responses.create(
        model="sim-model",
        input="What does my order cost?",
        background=True,
        metadata={"scenario": "order-total"},
    )
    seen = len(env.sim.requests)

    def sleep(seconds: float) -> None:
        env.clock.advance(seconds)

    settings: dict[str, Any] = {"clock": env.clock, "wall_clock": env.clock}
    if kind == "sync":
        ctl = ResponseController(env.client, sleep=sleep, **settings)
        events = list(ctl.watch(response_id=first.id))
    else:

        async def main() -> list[Any]:
            async def asleep(seconds: float) -> None:
                sleep(seconds)
                await anyio.sleep(0)

            async with openai.AsyncOpenAI(base_url=env.server.base_url, api_key=API_KEY) as c:
                actl = AsyncResponseController(c, sleep=asleep, **settings)
                return [e async for e in actl.watch(response_id=first.id)]

        events = anyio.run(main)
    assert any(isinstance(e, ResponseChanged) for e in events)
    finished = events[-1]
    assert isinstance(finished, ChainFinished)
    assert finished.outcome.response_ids == (first.id,)
    assert finished.outcome.ending.kind is EndingKind.HELD
    assert finished.outcome.ending.detail == "awaiting_client"
    assert posts_after(env, seen) == []
