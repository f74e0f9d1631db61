"""End to end: cancellation, deadlines, HTTP faults, poll-after, streaming and log redaction."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from adapters.openai import CancelToken, ControllerConfig, RetryPolicy
from adapters.simulator import Fault
from lifecycle import Hooks, PollTimeout, RunLifecycle, ToolCall, ToolRegistry
from tests.controller.conftest import API_KEY, Env, Item, MakeDriver, ToolBox

pytestmark = pytest.mark.e2e

RUN = "/v1/threads/*/runs/*"
RUNS = "/v1/threads/*/runs"
SUBMIT = "/v1/threads/*/runs/*/submit_tool_outputs"


def transitions(outcome: Any) -> list[tuple[str, str, str]]:
    return [(e.source, e.dest, e.via) for e in outcome.history]


# -- cancellation ------------------------------------------------------------------------------


def test_cancel_from_queued(make_driver: MakeDriver) -> None:
    """A token set before the run starts cancels it while queued."""
    token = CancelToken()
    token.cancel()
    outcome = make_driver().run("slow-queue", cancel_token=token)
    assert outcome.status == "cancelled"
    assert ("queued", "cancelling", "client") in transitions(outcome)
    assert outcome.cancel_requested
    assert not outcome.cancel_lost_race
    assert not any(a.kind == "external_cancel" for a in outcome.anomalies)


def test_cancel_from_in_progress(make_driver: MakeDriver) -> None:
    """A hook sets the token on entering in_progress; the run is cancelled from there."""
    token = CancelToken()
    hooks = Hooks()
    hooks.on_enter("in_progress")(lambda run, entry: token.cancel())
    outcome = make_driver(hooks=hooks).run("never-finishes", cancel_token=token)
    assert outcome.status == "cancelled"
    assert ("in_progress", "cancelling", "client") in transitions(outcome)


def test_cancel_from_requires_action_runs_no_tool(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """Cancelling while outputs are awaited: no dispatch, no submission."""
    token = CancelToken()
    hooks = Hooks()

    @hooks.on_requires_action
    def stop(run: RunLifecycle, calls: tuple[ToolCall, ...]) -> None:
        token.cancel()

    outcome = make_driver(hooks=hooks).run("order-total", cancel_token=token)
    assert outcome.status == "cancelled"
    assert ("requires_action", "cancelling", "client") in transitions(outcome)
    assert toolbox.calls == []
    assert env.sim.tool_outputs(outcome.run_id) == []


def test_cancel_method_on_a_queued_run(make_driver: MakeDriver, env: Env) -> None:
    """cancel() attaches to a run created elsewhere and follows it to cancelled."""
    thread_id = env.thread()
    run_id = env.start_run(thread_id, "slow-queue")
    outcome = make_driver()._call("cancel", thread_id=thread_id, run_id=run_id)
    assert outcome.status == "cancelled"
    assert not outcome.cancel_lost_race


def test_cancel_after_completion_is_a_lost_race_not_an_error(
    make_driver: MakeDriver, env: Env
) -> None:
    """Cancelling a finished run reports cancel_lost_race."""
    driver = make_driver()
    done = driver.run("text")
    outcome = driver._call("cancel", thread_id=done.thread_id, run_id=done.run_id)
    assert outcome.status == "completed"
    assert outcome.cancel_lost_race


def test_cancel_that_loses_the_race_while_cancelling(make_driver: MakeDriver, env: Env) -> None:
    """cancelling -> completed is reported as a lost race."""
    thread_id = env.thread()
    run_id = env.start_run(thread_id, "cancel-loses-race")
    outcome = make_driver()._call("cancel", thread_id=thread_id, run_id=run_id)
    assert outcome.status == "completed"
    assert outcome.cancel_lost_race
    assert ("cancelling", "completed") in [(s, d) for s, d, _ in transitions(outcome)]


def test_stuck_cancelling_hits_its_own_deadline(make_driver: MakeDriver, env: Env) -> None:
    """A cancel never confirmed ends at the cancelling deadline, reported, not looping."""
    env.sim.poll_after_ms = 1000
    config = ControllerConfig(deadlines={"cancelling": 5.0})
    token = CancelToken()
    token.cancel()
    outcome = make_driver(config=config).run("stuck-cancelling", cancel_token=token)
    assert outcome.status == "cancelling"
    assert outcome.deadline == "cancelling"
    assert outcome.cancel_unconfirmed
    with pytest.raises(PollTimeout) as info:
        outcome.raise_for_status()
    assert info.value.deadline == "cancelling"


def test_queued_deadline_cancels_the_run(make_driver: MakeDriver) -> None:
    """A run stuck in queued past its deadline is cancelled and reported with that deadline."""
    config = ControllerConfig(deadlines={"queued": 0.05})
    outcome = make_driver(config=config).run("slow-queue")
    assert outcome.deadline == "queued"
    assert outcome.status == "cancelled"
    assert not outcome.ok


def test_overall_deadline_without_cancel(make_driver: MakeDriver, env: Env) -> None:
    """With cancel_on_timeout=False the drive returns at the overall deadline."""
    env.sim.poll_after_ms = 250
    config = ControllerConfig(deadlines={}, overall_timeout_s=1.0, cancel_on_timeout=False)
    outcome = make_driver(config=config).run("never-finishes")
    assert outcome.deadline == "overall"
    assert outcome.status == "in_progress"
    assert not outcome.cancel_requested


# -- HTTP faults -------------------------------------------------------------------------------


def test_429_with_retry_after_ms_is_retried_after_that_wait(
    make_driver: MakeDriver, env: Env
) -> None:
    """The retry waits what the server asked for; the SDK's own retries are off."""
    env.sim.faults.add(
        Fault(method="GET", path=RUN, status=429, headers={"retry-after-ms": "750"}, times=2)
    )
    driver = make_driver()
    outcome = driver.run("text")
    assert outcome.status == "completed"
    assert driver.sleeps.count(0.75) == 2
    assert env.sim.request_count("GET", "/v1/threads/*/runs/*") >= 3


def test_429_with_retry_after_seconds(make_driver: MakeDriver, env: Env) -> None:
    """retry-after in seconds is honoured too."""
    env.sim.faults.add(Fault(method="GET", path=RUN, status=429, headers={"retry-after": "3"}))
    driver = make_driver()
    assert driver.run("text").status == "completed"
    assert 3.0 in driver.sleeps


def test_500_then_success(make_driver: MakeDriver, env: Env) -> None:
    """A 5xx on a read is retried with backoff."""
    env.sim.faults.add(Fault(method="GET", path=RUN, status=500, times=2))
    outcome = make_driver().run("text")
    assert outcome.status == "completed"


def test_a_server_that_always_fails_is_reported_within_the_deadlines(
    make_driver: MakeDriver, env: Env
) -> None:
    """Every read fails: each poll gives up after max_attempts and the next poll tries again (a
    lost observation, not a reason to stop) until the queued deadline; the cancel cannot be
    confirmed either, so the drive ends reported (deadline + abandoned), never raised."""
    env.sim.faults.add(Fault(method="GET", path=RUN, status=503, times=None))
    config = ControllerConfig(
        retry=RetryPolicy(max_attempts=3, base_s=0.001, cap_s=0.002),
        poll_interval_s=0.01,
        deadlines={"queued": 0.2, "cancelling": 0.2},
    )
    driver = make_driver(config=config)
    outcome = driver.run("text")
    assert outcome.status == "queued"  # the last status seen: the create's answer
    assert outcome.deadline == "queued"
    assert outcome.abandoned == "http_503"
    assert outcome.cancel_requested
    gets = env.sim.request_count("GET", "/v1/threads/*/runs/*")
    assert gets > 3
    # every wait, retries included, ends at the deadlines: queued, then cancelling
    assert sum(driver.sleeps) <= 0.2 + 0.2 + 1e-6
    assert env.sim.request_count("POST", "/v1/threads/*/runs/*/cancel") == 1
    with pytest.raises(PollTimeout, match="abandoned:http_503"):
        outcome.raise_for_status()


def test_submit_500_not_applied_is_reconciled_then_resent_once(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """Unknown submit outcome: read the run (still waiting), resend the recorded outputs."""
    env.sim.faults.add(Fault(method="POST", path=SUBMIT, status=500))
    outcome = make_driver().run("order-total")
    assert outcome.status == "completed"
    assert toolbox.count("calculate_order_total") == 1
    assert len(env.sim.tool_outputs(outcome.run_id)) == 1
    assert outcome.tool_calls[0].state == "delivered"


def test_submit_applied_then_500_is_recognised_as_delivered(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """The submit went in but the answer was a 500: reading the run shows it moved on."""
    env.sim.faults.add(Fault(method="POST", path=SUBMIT, applied_then_fail="status"))
    outcome = make_driver().run("order-total")
    assert outcome.status == "completed"
    assert toolbox.count("calculate_order_total") == 1
    assert len(env.sim.tool_outputs(outcome.run_id)) == 1  # never resubmitted
    assert outcome.tool_calls[0].state == "delivered"


def test_create_applied_then_dropped_adopts_the_run(make_driver: MakeDriver, env: Env) -> None:
    """An unknown create is found again by its op_id instead of creating a second run."""
    env.sim.faults.add(Fault(method="POST", path=RUNS, applied_then_fail="drop"))
    outcome = make_driver().run("text")
    assert outcome.status == "completed"
    assert env.sim.request_count("POST", RUNS) == 1
    assert len(env.sim.runs) == 1


@pytest.mark.reference_server
def test_poll_after_header_is_honoured_on_every_poll(make_driver: MakeDriver, env: Env) -> None:
    """Each wait equals the openai-poll-after-ms of the response just before it."""
    given: list[int] = []

    def policy(run: Any) -> int:
        value = 20 + 7 * len(given)
        given.append(value)
        return value

    env.sim.poll_after_ms = policy
    driver = make_driver(config=ControllerConfig(fetch_messages=False))
    outcome = driver.run("slow-queue")
    assert outcome.status == "completed"
    waits = [round(s * 1000) for s in driver.sleeps]
    assert len(set(waits)) > 2  # it changed, and we followed it
    assert waits == given[: len(waits)]  # every response's value, in order, one wait each


def test_no_header_falls_back_to_the_configured_interval(make_driver: MakeDriver, env: Env) -> None:
    """Without the header the fallback interval is used."""
    env.sim.poll_after_ms = None
    driver = make_driver(config=ControllerConfig(poll_interval_s=0.04))
    assert driver.run("text").status == "completed"
    # a first step above the interval: every poll on the interval's grid, none later
    assert driver.sleeps
    assert all(0 < s <= 0.04 + 1e-6 for s in driver.sleeps)


# -- streaming ---------------------------------------------------------------------------------


@pytest.mark.reference_server
def test_streaming_feeds_the_machine_edge_by_edge(make_driver: MakeDriver, env: Env) -> None:
    """With stream=True every transition arrives via the stream, none inferred, no polling."""
    outcome = make_driver().run("order-total", stream=True)
    assert outcome.status == "completed"
    assert {e.via for e in outcome.history} == {"stream"}
    assert not any(e.inferred for e in outcome.history)
    assert outcome.stream_fallbacks == 0
    assert env.sim.request_count("GET", "/v1/threads/*/runs/*") == 0
    assert outcome.messages == ("The total price of your order is 133.0.",)


def test_a_dropped_stream_falls_back_to_polling(make_driver: MakeDriver, env: Env) -> None:
    """The stream is cut after two events; polling takes over and finishes the run."""
    env.sim.faults.add(Fault(method="POST", path=RUNS, cut_stream_after=2))
    outcome = make_driver().run("order-total", stream=True)
    assert outcome.status == "completed"
    assert outcome.stream_fallbacks == 1
    assert "poll" in {e.via for e in outcome.history}
    assert outcome.tool_calls[0].state == "delivered"


def test_a_silent_stream_falls_back_to_polling(make_driver: MakeDriver, env: Env) -> None:
    """A stream that goes quiet past the idle timeout is dropped."""
    env.sim.faults.add(Fault(method="POST", path=RUNS, silent_stream_after=1))
    config = ControllerConfig(stream_idle_timeout_s=0.3)
    outcome = make_driver(config=config).run("text", stream=True)
    assert outcome.status == "completed"
    assert outcome.stream_fallbacks == 1


# -- tools: budget -----------------------------------------------------------------------------


def test_a_tool_past_its_budget_gets_a_timeout_output(make_driver: MakeDriver, env: Env) -> None:
    """The run is not held hostage: an error output is submitted at the budget."""
    release = threading.Event()
    reg = ToolRegistry()

    @reg.tool
    def calculate_order_total(items: list[Item]) -> float:
        """Slow."""
        release.wait(10)
        return 1.0

    try:
        outcome = make_driver(tools=reg, config=ControllerConfig(tool_timeout_s=0.2)).run(
            "order-total"
        )
    finally:
        release.set()
    assert outcome.status == "completed"
    [[(_, output)]] = [
        [(o.tool_call_id, o.output) for o in r] for r in env.sim.tool_outputs(outcome.run_id)
    ]
    assert json.loads(output)["error"]["type"] == "tool_timeout"


# -- logging -----------------------------------------------------------------------------------


def test_debug_logs_never_contain_the_api_key(
    make_driver: MakeDriver, env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    """With DEBUG on for the controller and the SDK, no record carries the key."""
    env.sim.faults.add(Fault(method="GET", path=RUN, status=500))
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("openai").setLevel(logging.DEBUG)
        outcome = make_driver().run("order-total")
    assert outcome.status == "completed"
    assert any(r.name == "adapters.openai" for r in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + repr(record.__dict__)
        assert API_KEY not in text
        assert API_KEY[3:] not in text
    assert API_KEY not in repr(outcome)
    assert API_KEY not in outcome.to_json()
