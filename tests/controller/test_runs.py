"""End to end: the controller drives simulated runs over loopback HTTP with the real SDK.

Every test runs twice, once with the sync and once with the async driver (``make_driver``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.openai import ControllerConfig, RunOutcome
from lifecycle import RunExpired, RunFailed, RunIncomplete, ToolRegistry
from tests.controller.conftest import Env, Item, MakeDriver, ToolBox, make_toolbox

pytestmark = pytest.mark.e2e


def dests(outcome: RunOutcome) -> list[str]:
    return [e.dest for e in outcome.history]


def submitted(env: Env, outcome: RunOutcome) -> list[list[tuple[str, str]]]:
    """What the server received, per round: (tool_call_id, output)."""
    return [[(o.tool_call_id, o.output) for o in r] for r in env.sim.tool_outputs(outcome.run_id)]


def test_text_run_completes_with_the_answer(make_driver: MakeDriver, env: Env) -> None:
    """queued -> in_progress -> completed, the message text, no anomaly, no tool call."""
    outcome = make_driver().run("text")
    assert outcome.status == "completed"
    assert outcome.ok
    assert dests(outcome) == ["in_progress", "completed"]
    assert outcome.messages == ("Hello! How can I help you today?",)
    assert outcome.anomalies == ()
    assert outcome.tool_calls == ()
    assert outcome.run is not None
    assert outcome.run.id == outcome.run_id
    assert outcome.raise_for_status() is outcome


def test_one_tool_call_is_executed_once_and_submitted(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """The seed's order total: one round, the tool runs once, one submission, the answer."""
    outcome = make_driver().run("order-total")
    assert outcome.status == "completed"
    assert toolbox.count("calculate_order_total") == 1
    (call,) = outcome.tool_calls
    assert call.name == "calculate_order_total"
    assert call.state == "delivered"
    assert call.output == "133.0"  # 2 books x 12.5 + 3 stationery x 3 + 1 electronics x 99
    assert submitted(env, outcome) == [[(call.id, "133.0")]]
    assert outcome.messages == ("The total price of your order is 133.0.",)
    assert "requires_action" in dests(outcome)
    assert outcome.anomalies == ()


def test_parallel_tool_calls_run_concurrently_with_one_submission(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """Three calls in one round; the two get_weather calls meet at a barrier (concurrency)."""
    outcome = make_driver(config=ControllerConfig(max_concurrency=4)).run("parallel-tools")
    assert outcome.status == "completed"
    assert [c.name for c in outcome.tool_calls] == [
        "get_weather",
        "get_weather",
        "calculate_order_total",
    ]
    assert all(c.error is None for c in outcome.tool_calls)  # no barrier timeout: concurrent
    rounds = submitted(env, outcome)
    assert len(rounds) == 1
    assert sorted(i for i, _ in rounds[0]) == sorted(c.id for c in outcome.tool_calls)
    assert json.loads(rounds[0][0][1]) == {"city": "Paris", "celsius": 21}
    assert toolbox.count("get_weather") == 2


def test_two_rounds_each_execute_their_tool_once(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """Several requires_action rounds per run are normal."""
    outcome = make_driver().run("two-rounds")
    assert outcome.status == "completed"
    assert [(c.name, c.round) for c in outcome.tool_calls] == [
        ("lookup_prices", 1),
        ("calculate_order_total", 2),
    ]
    assert dests(outcome).count("requires_action") == 2
    assert len(submitted(env, outcome)) == 2
    assert toolbox.count("lookup_prices") == 1
    assert toolbox.count("calculate_order_total") == 1


def test_a_raising_tool_gets_an_error_output_and_the_run_goes_on(
    make_driver: MakeDriver, env: Env
) -> None:
    """The exception becomes a structured error output; no traceback, no secret."""
    reg = ToolRegistry()

    @reg.tool
    def calculate_order_total(items: list[Item]) -> float:
        """Fails."""
        raise RuntimeError("price service down (token=sk-live-abcdef123456)")

    outcome = make_driver(tools=reg).run("order-total")
    assert outcome.status == "completed"
    (call,) = outcome.tool_calls
    assert call.error == "tool_error"
    assert call.state == "delivered"
    [[(_, output)]] = submitted(env, outcome)
    err = json.loads(output)["error"]
    assert err["type"] == "tool_error"
    assert err["exception"] == "RuntimeError"
    assert "sk-live-abcdef123456" not in output
    assert "Traceback" not in output


def test_unknown_tool_gets_an_error_listing_allowed_tools(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """multi_tool_use.parallel is never dispatched."""
    outcome = make_driver().run("unknown-tool")
    assert outcome.status == "completed"
    [[(_, output)]] = submitted(env, outcome)
    err = json.loads(output)["error"]
    assert err["type"] == "unknown_tool"
    assert err["allowed"] == ["calculate_order_total", "get_weather", "lookup_prices"]
    assert toolbox.calls == []
    assert outcome.tool_calls[0].state == "delivered"


def test_invalid_arguments_get_an_error_and_the_tool_never_runs(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """Truncated JSON arguments are reported, not repaired."""
    outcome = make_driver().run("invalid-arguments")
    assert outcome.status == "completed"
    [[(_, output)]] = submitted(env, outcome)
    assert json.loads(output)["error"]["type"] == "invalid_json"
    assert toolbox.calls == []


def test_failed_run_is_a_result_and_raise_is_opt_in(make_driver: MakeDriver) -> None:
    """failed is an outcome; raise_for_status raises RunFailed with last_error."""
    outcome = make_driver().run("fails")
    assert outcome.status == "failed"
    assert not outcome.ok
    with pytest.raises(RunFailed, match="server_error"):
        outcome.raise_for_status()


def test_incomplete_run_is_a_result(make_driver: MakeDriver) -> None:
    """incomplete keeps its reason."""
    outcome = make_driver().run("incomplete")
    assert outcome.status == "incomplete"
    with pytest.raises(RunIncomplete, match="max_completion_tokens"):
        outcome.raise_for_status()


def test_expired_run_is_a_result(make_driver: MakeDriver, env: Env) -> None:
    """A run that never finishes expires at expires_at (600 s on the simulated clock)."""
    env.sim.poll_after_ms = 60_000
    config = ControllerConfig(
        deadlines={}, overall_timeout_s=10_000, max_poll_interval_s=120, fetch_messages=False
    )
    outcome = make_driver(config=config).run("never-finishes")
    assert outcome.status == "expired"
    assert outcome.deadline is None
    with pytest.raises(RunExpired):
        outcome.raise_for_status()


def test_events_yield_status_changes_steps_messages_and_the_outcome(
    make_driver: MakeDriver, env: Env
) -> None:
    """events() reports every status change, completed steps and messages, then the outcome."""
    events = make_driver().events(
        thread_id=env.thread(), assistant_id=env.assistant_id, metadata={"scenario": "order-total"}
    )
    kinds = [type(e).__name__ for e in events]
    assert kinds[-1] == "RunFinished"
    assert kinds.count("RunFinished") == 1
    assert "ToolsStarted" in kinds
    assert "ToolsFinished" in kinds
    assert "StepCompleted" in kinds
    assert "MessageCompleted" in kinds
    statuses = [e.status for e in events if type(e).__name__ == "StatusChanged"]
    assert statuses[-1] == "completed"
    message = next(e for e in events if type(e).__name__ == "MessageCompleted")
    assert message.text == "The total price of your order is 133.0."
    outcome: Any = events[-1].outcome
    assert outcome.status == "completed"


def test_drive_attaches_to_an_existing_run(make_driver: MakeDriver, env: Env) -> None:
    """drive() picks up a run created elsewhere, tools included."""
    thread_id = env.thread()
    run_id = env.start_run(thread_id, "order-total")
    outcome = make_driver()._call("drive", thread_id=thread_id, run_id=run_id)
    assert outcome.run_id == run_id
    assert outcome.status == "completed"
    assert outcome.tool_calls[0].state == "delivered"


def test_driving_a_finished_run_again_executes_nothing(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """A second drive of a completed run only reads it."""
    driver = make_driver()
    first = driver.run("order-total")
    again = driver._call("drive", thread_id=first.thread_id, run_id=first.run_id)
    assert again.status == "completed"
    assert again.tool_calls == ()
    assert toolbox.count("calculate_order_total") == 1


def test_tools_allowlist_is_enforced_at_dispatch(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """A registered tool not allowed for this run is answered as unknown."""
    outcome = make_driver().run("order-total", allowed_tools={"get_weather"})
    [[(_, output)]] = submitted(env, outcome)
    err = json.loads(output)["error"]
    assert err["type"] == "unknown_tool"
    assert err["allowed"] == ["get_weather"]
    assert toolbox.calls == []


def test_outcome_exports_a_snapshot_for_the_diagram_overlay(make_driver: MakeDriver) -> None:
    """to_json() carries lifecycle, state, journal and anomalies."""
    data = json.loads(make_driver().run("order-total").to_json())
    assert data["lifecycle"] == "assistants-run"
    assert data["state"] == "completed"
    assert [e["dest"] for e in data["journal"]][-1] == "completed"
    assert data["anomalies"] == []
    assert data["tool_calls"][0]["state"] == "delivered"


def test_large_outputs_are_capped_before_submission(make_driver: MakeDriver, env: Env) -> None:
    """The server never receives more than the cap; the full output stays with the caller."""
    box = make_toolbox(max_output_chars=512)
    reg = ToolRegistry(max_output_chars=512)

    @reg.tool
    def calculate_order_total(items: list[Item]) -> str:
        """Huge."""
        return "x" * 5000

    del box
    outcome = make_driver(tools=reg).run("order-total")
    [[(_, output)]] = submitted(env, outcome)
    assert len(output) <= 512
    assert "[... truncated" in output
    assert outcome.tool_calls[0].full_output == "x" * 5000
    assert outcome.tool_calls[0].truncated


def test_tool_rounds_past_the_cap_cancel_the_run(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """A model that keeps calling tools is stopped: round 2 is never run, the run is cancelled."""
    outcome = make_driver(config=ControllerConfig(max_tool_rounds=1)).run("two-rounds")
    assert outcome.deadline == "tool_round_limit"
    assert outcome.status == "cancelled"
    assert [c.round for c in outcome.tool_calls] == [1]
    assert toolbox.count("lookup_prices") == 1
    assert toolbox.count("calculate_order_total") == 0
    assert len(submitted(env, outcome)) == 1


@pytest.mark.reference_server
def test_streamed_second_round_is_dispatched_without_an_extra_poll(
    make_driver: MakeDriver, env: Env, toolbox: ToolBox
) -> None:
    """When the submit stream ends in the next requires_action, that round starts at once."""
    outcome = make_driver(stream=True).run("two-rounds")
    assert outcome.status == "completed"
    assert toolbox.count("calculate_order_total") == 1
    run_reads = env.sim.request_count(method="GET", path_glob="/v1/threads/*/runs/*")
    assert run_reads == 0, "the stream carried every status; no poll was needed"
