"""The Responses chain table: a run spanning background responses, lifted from the response one."""

from __future__ import annotations

from lifecycle import (
    RESPONSE,
    RESPONSE_CHAIN,
    ChainStatus,
    Observation,
    RunLifecycle,
    ToolCall,
    check_trace,
)
from lifecycle.kernel._tables import TableFacts

CALL = ToolCall("call_1", "calculate_order_total", "{}")


def test_the_chain_waits_for_the_client_in_requires_action_only() -> None:
    assert RESPONSE_CHAIN.awaiting_client == {ChainStatus.REQUIRES_ACTION}
    assert RESPONSE.awaiting_client == frozenset()  # a single response never waits


def test_the_chain_uses_the_responses_statuses_plus_requires_action() -> None:
    """Every status of a response is a chain status; the chain adds only requires_action."""
    assert {s.value for s in RESPONSE.states} | {"requires_action"} == RESPONSE_CHAIN.state_values


def test_a_tool_round_is_a_guarded_client_edge_to_a_new_queued_response() -> None:
    run = RunLifecycle(RESPONSE_CHAIN)
    run.observe("in_progress")
    run.observe("requires_action", tool_calls=[CALL])
    assert run.observe("queued") == []  # the next response without our submission: stale
    assert run.anomalies[-1].kind == "regression"
    entry = run.trigger("submit_tool_outputs", tool_call_ids=["call_1"])
    assert (entry.source, entry.dest) == ("requires_action", "queued")


def test_cancel_goes_straight_to_cancelled_from_every_live_status() -> None:
    facts = TableFacts.of(RESPONSE_CHAIN)
    assert facts.cancellable == {"queued", "in_progress", "requires_action"}
    assert facts.cancel_targets == {"cancelled"}
    assert facts.cancel_success == {"cancelled"}


def test_cancelled_then_completed_keeps_cancelled() -> None:
    """A cancel race seen on a compatible service: the first terminal status stands."""
    run = RunLifecycle(RESPONSE_CHAIN)
    run.request_cancel()
    run.observe("cancelled")
    run.observe("completed")
    assert run.state == "cancelled"
    assert run.anomalies[-1].kind == "terminal_flip"


def test_lifecycle_check_reads_chain_traces() -> None:
    """A recorded chain trace (two responses, one tool round) replays as legal, the second
    response's in_progress inferred."""
    statuses = ["queued", "in_progress", "requires_action", "queued", "completed"]
    observations = [Observation(i, s) for i, s in enumerate(statuses, 1)]
    report = check_trace(observations, RESPONSE_CHAIN)
    assert report.ok
    assert report.final_state == "completed"
    assert [e.dest for e in report.run.history] == [
        "in_progress",
        "requires_action",
        "queued",
        "in_progress",
        "completed",
    ]
