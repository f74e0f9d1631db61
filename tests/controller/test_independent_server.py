"""What a new user hit with the controller against an independent Assistants-compatible server.

Each test reproduces one report on the simulator profile or script that behaves like that server
(the real ``openai`` client over loopback HTTP, both controllers), and fails on the controller
that predates the drive kernel:

* the first poll after create and after submit waited the 1 s default (no header there);
* after a 429 that outlived its retries, the next poll ignored the 429's retry-after;
* retry waits ignored the drive's deadlines (3 s + 2 s deadlines, a 240 s drive);
* a stale ``requires_action`` replayed after our submit was taken for a new round (the output
  was posted again, the journal got an invented round);
* a 200 whose body is not a run (malformed JSON, an HTML page) raised out of ``run()``;
* ``requires_action`` without its payload, then ``failed``: the run was polled until the
  requires_action deadline (600 s);
* ``openai-poll-after-ms: nan`` made it poll with no pause;
* ``stream=True`` against a server without SSE raised and orphaned the run;
* cancelling the task of ``AsyncRunController.run()`` left the run live on the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest

from adapters.openai import (
    AsyncRunController,
    CancelToken,
    ControllerConfig,
    RetryPolicy,
    RunController,
)
from adapters.simulator import Fault, ServerProfile
from lifecycle import ToolRegistry
from tests.controller.conftest import (
    API_KEY,
    AsyncDriver,
    Driver,
    Env,
    SyncDriver,
    ToolBox,
    make_toolbox,
    open_env,
)

RUN = "/v1/threads/*/runs/*"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def driver(kind: str, env: Env, box: ToolBox, **settings: Any) -> Driver:
    cls = SyncDriver if kind == "sync" else AsyncDriver
    return cls(env, box.registry, **settings)


@pytest.fixture
def get_only() -> Iterator[Env]:
    """The independent server: openai-poll-after-ms only on GET run answers (50 ms)."""
    with open_env("get-only-poll-after") as env:
        yield env


def test_the_first_poll_after_create_and_after_submit_comes_at_once(
    kind: str, get_only: Env
) -> None:
    """Default settings: no wait of the 1 s default anywhere; the waits are the GET hints."""
    box = make_toolbox()
    d = driver(kind, get_only, box)
    outcome = d.run("two-rounds")
    assert outcome.status == "completed"
    assert d.sleeps, "it polled"
    assert max(d.sleeps) <= 0.05 + 1e-9  # only the 50 ms GET hints; never 1.0


def test_after_a_429_that_outlived_its_retries_the_next_poll_waits_its_retry_after(
    kind: str, get_only: Env
) -> None:
    """Every attempt of one poll is a 429 asking for 2 s: the next poll comes after 2 s, not
    after the last poll-after (50 ms)."""
    retry = RetryPolicy(max_attempts=2, base_s=0.001, cap_s=0.001)
    get_only.sim.faults.add(
        Fault(method="GET", path=RUN, status=429, headers={"retry-after": "2"}, nth=2, times=2)
    )
    d = driver(kind, get_only, make_toolbox(), config=ControllerConfig(retry=retry))
    outcome = d.run("slow-queue")
    assert outcome.status == "completed"
    assert d.sleeps.count(2.0) == 2  # between the two attempts, and before the next poll


def test_retry_waits_end_at_the_deadlines(kind: str, get_only: Env) -> None:
    """Every request after the create answers 429 with a 100 s retry-after: the drive ends
    within its 3 s overall deadline plus the 2 s cancelling deadline (it used to last 240 s)."""
    for path in (RUN, RUN + "/cancel"):
        get_only.sim.faults.add(
            Fault(status=429, headers={"retry-after": "100"}, path=path, times=None)
        )
    config = ControllerConfig(overall_timeout_s=3.0, deadlines={"cancelling": 2.0})
    d = driver(kind, get_only, make_toolbox(), config=config)
    outcome = d.run("text")
    assert sum(d.sleeps) <= 3.0 + 2.0 + 1e-6
    assert outcome.deadline == "overall"
    assert outcome.cancel_unconfirmed


def test_a_stale_requires_action_after_our_submit_is_not_answered_again(kind: str) -> None:
    """The server replays requires_action with the call we answered: no second submission (the
    server would refuse it), no second execution, no invented round in the journal."""
    with open_env("get-only-poll-after") as env:
        box = make_toolbox()
        outcome = driver(kind, env, box).run("stale-requires-action-after-submit")
        assert outcome.status == "completed"
        assert box.count("calculate_order_total") == 1
        assert env.sim.request_count("POST", RUN + "/submit_tool_outputs") == 1
        assert [e.dest for e in outcome.history].count("requires_action") == 1
        assert "stale_round" in [a.kind for a in outcome.anomalies]


def test_a_200_that_is_not_a_run_is_a_lost_observation(kind: str) -> None:
    """Every third read answers 200 with malformed JSON, an HTML page, a JSON array or a run
    without status: polling goes on; nothing raises."""
    with open_env("garbage-bodies") as env:
        # garbage answers carry no poll-after header: a short grid keeps the reads coming
        config = ControllerConfig(poll_interval_s=0.05, first_poll_backoff_s=0.05)
        d = driver(kind, env, make_toolbox(), config=config)
        outcome = d.run("slow-queue")
        assert outcome.status == "completed"
        assert env.sim.request_count("GET", RUN) >= 6  # garbage was served, twice at least


def test_requires_action_without_payload_then_failed_ends_with_failed(kind: str) -> None:
    """The server reports the run failed while the lifecycle waits in requires_action: the
    drive ends at once with the server's status (no polling until the 600 s deadline)."""
    with open_env("get-only-poll-after") as env:
        d = driver(kind, env, make_toolbox())
        outcome = d.run("requires-action-then-failed")
        assert outcome.status == "failed"
        assert sum(d.sleeps) < 1.0
        assert env.sim.request_count("POST", RUN + "/cancel") == 0
        gets_after = env.sim.request_count("GET", RUN)
        assert gets_after <= 4  # queued, in_progress, requires_action, failed: then it stops


def test_a_nan_poll_after_header_never_makes_the_controller_spin(kind: str) -> None:
    """``openai-poll-after-ms: nan`` on every answer: the controller backs off as if there were
    no header (it once polled 610 times in 0.6 s)."""
    nan = ServerProfile(
        "nan", "openai-poll-after-ms: nan on every run answer", poll_after_raw="nan"
    )
    with open_env(nan) as env:
        d = driver(kind, env, make_toolbox())
        outcome = d.run("slow-queue")
        assert outcome.status == "completed"
        assert min(d.sleeps) >= 0.05
        assert env.sim.request_count("GET", RUN) < 30


def test_stream_against_a_server_without_sse_polls_the_created_run(kind: str) -> None:
    """``stream=True`` on a server that answers with plain JSON: the created run is followed by
    polling to its end; it is not orphaned."""
    with open_env("no-sse") as env:
        box = make_toolbox()
        outcome = driver(kind, env, box, stream=True).run("order-total")
        assert outcome.status == "completed"
        assert outcome.stream_fallbacks == 1
        assert box.count("calculate_order_total") == 1
        assert len(env.sim.runs) == 1


def test_cancelling_the_task_that_drives_a_run_cancels_the_run_on_the_server() -> None:
    """A user who cancels the asyncio task owning a run expects the run cancelled too: one
    cancel request, shielded and bounded, then the task's cancellation goes on."""
    with open_env("get-only-poll-after") as env:

        async def main() -> None:
            async with openai.AsyncOpenAI(base_url=env.server.base_url, api_key=API_KEY) as client:
                controller = AsyncRunController(client, tools=ToolRegistry())

                async def drive() -> None:
                    thread = env.thread()
                    await controller.run(
                        thread_id=thread,
                        assistant_id=env.assistant_id,
                        metadata={"scenario": "never-finishes"},
                    )

                async with anyio.create_task_group() as tg:
                    tg.start_soon(drive)
                    while env.sim.request_count("GET", RUN) < 2:
                        await anyio.sleep(0.01)
                    tg.cancel_scope.cancel()

        anyio.run(main)
        assert env.sim.request_count("POST", RUN + "/cancel") == 1
        (run,) = env.sim.runs.values()
        assert run.status in ("cancelling", "cancelled")


def test_a_cancel_token_still_cancels_without_interrupting() -> None:
    """The cooperative way stays: a token set from elsewhere cancels the run and returns."""
    with open_env("get-only-poll-after") as env:
        token = CancelToken()
        token.cancel()
        outcome = SyncDriver(env, ToolRegistry()).run("never-finishes", cancel_token=token)
        assert outcome.status == "cancelled"
        assert outcome.cancel_requested


def test_ctrl_c_while_the_sync_controller_waits_cancels_the_run_then_propagates() -> None:
    """The sync twin of a cancelled task: ``KeyboardInterrupt`` in the driving thread sends one
    cancel for the run, then goes on up to the caller."""
    with open_env("get-only-poll-after") as env:
        polls = {"n": 0}

        def sleep(seconds: float) -> None:
            env.clock.advance(seconds)
            polls["n"] += 1
            if polls["n"] == 3:
                raise KeyboardInterrupt

        controller = RunController(env.client, tools=ToolRegistry(), sleep=sleep)
        thread = env.thread()
        with pytest.raises(KeyboardInterrupt):
            controller.run(
                thread_id=thread,
                assistant_id=env.assistant_id,
                metadata={"scenario": "never-finishes"},
            )
        assert env.sim.request_count("POST", RUN + "/cancel") == 1
        (run,) = env.sim.runs.values()
        assert run.status in ("cancelling", "cancelled")
