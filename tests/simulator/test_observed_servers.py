"""The named status scripts that reproduce what an independent server did, read through the SDK.

Each test pins the exact sequence a polling client reads (create, then one GET at a time) and
what the server answers to submits along the way.
"""

from __future__ import annotations

import openai
import pytest
from openai.types.beta.threads import Run

from adapters.simulator import SCENARIOS, SCRIPTS, Simulator, SimulatorServer
from adapters.simulator.scripts import STALE_CALL

from .helpers import strict_run

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

ORDER_OUTPUT = '{"total": 280}'


def _start(client: openai.OpenAI, scenario: str) -> tuple[str, Run]:
    asst = client.beta.assistants.create(model="m", metadata={"scenario": scenario})
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "my order?"}])
    return thread.id, client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)


def _get(client: openai.OpenAI, thread_id: str, run_id: str) -> Run:
    raw = client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread_id)
    return strict_run(raw.http_response.json())


def _submit(client: openai.OpenAI, thread_id: str, run_id: str, call_id: str) -> Run:
    return client.beta.threads.runs.submit_tool_outputs(
        run_id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call_id, "output": ORDER_OUTPUT}],
    )


def test_the_scripts_are_registered_by_name() -> None:
    """Both scripts ship in SCRIPTS, beside (never inside) SCENARIOS, on every new simulator."""
    names = {"requires-action-then-failed", "stale-requires-action-after-submit"}
    assert names <= set(SCRIPTS)
    assert not set(SCRIPTS) & set(SCENARIOS)
    sim = Simulator()
    assert names <= set(sim.engine.scripts)
    assert (
        sim.engine.scripts["requires-action-then-failed"] is SCRIPTS["requires-action-then-failed"]
    )


def test_requires_action_then_failed(sim: Simulator, client: openai.OpenAI) -> None:
    """queued, in_progress, requires_action with required_action null (a submit is refused),
    then failed with last_error and failed_at, for good."""
    thread_id, created = _start(client, "requires-action-then-failed")
    assert created.status == "queued"
    assert _get(client, thread_id, created.id).status == "in_progress"
    waiting = _get(client, thread_id, created.id)
    assert (waiting.status, waiting.required_action) == ("requires_action", None)
    with pytest.raises(openai.BadRequestError) as refused:
        _submit(client, thread_id, created.id, "call_anything")
    assert refused.value.body == {
        "message": 'Runs in status "requires_action" do not accept tool outputs.',
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    failed = _get(client, thread_id, created.id)
    assert failed.status == "failed"
    assert failed.last_error is not None
    assert failed.last_error.code == "server_error"
    assert failed.failed_at is not None
    assert failed.expires_at is None
    assert _get(client, thread_id, created.id).status == "failed"
    assert sim.tool_outputs(created.id) == []
    assert [s for s, _ in sim.run_history(created.id)] == [
        "queued",
        "in_progress",
        "requires_action",
        "failed",
    ]


def test_stale_requires_action_after_submit(sim: Simulator, client: openai.OpenAI) -> None:
    """One calculate_order_total round; after the accepted submit, the next GET replays the same
    requires_action (same call id) once; a second submit is a 400; then in_progress, completed."""
    thread_id, created = _start(client, "stale-requires-action-after-submit")
    assert created.status == "queued"
    assert _get(client, thread_id, created.id).status == "in_progress"
    waiting = _get(client, thread_id, created.id)
    assert waiting.status == "requires_action"
    assert waiting.required_action is not None
    (call,) = waiting.required_action.submit_tool_outputs.tool_calls
    assert (call.id, call.function.name) == (STALE_CALL.id, "calculate_order_total")
    assert '"item_type": "books"' in call.function.arguments

    accepted = _submit(client, thread_id, created.id, call.id)
    assert accepted.status == "queued"

    stale = _get(client, thread_id, created.id)
    assert stale.status == "requires_action"
    assert stale.required_action is not None
    assert [c.id for c in stale.required_action.submit_tool_outputs.tool_calls] == [call.id]
    with pytest.raises(openai.BadRequestError) as refused:
        _submit(client, thread_id, created.id, call.id)
    assert refused.value.status_code == 400
    assert refused.value.body["message"] == (  # type: ignore[index]
        'Runs in status "queued" do not accept tool outputs.'
    )

    assert _get(client, thread_id, created.id).status == "in_progress"
    done = _get(client, thread_id, created.id)
    assert (done.status, done.required_action) == ("completed", None)
    assert done.completed_at is not None
    assert _get(client, thread_id, created.id).status == "completed"
    (round_,) = sim.tool_outputs(created.id)
    assert [(o.tool_call_id, o.output) for o in round_] == [(call.id, ORDER_OUTPUT)]
    assert [s for s, _ in sim.run_history(created.id)] == [
        "queued",
        "in_progress",
        "requires_action",
        "queued",
        "requires_action",
        "in_progress",
        "completed",
    ]


def test_the_stale_replay_fools_the_sdk_poll_helper(
    served: SimulatorServer, live: openai.OpenAI
) -> None:
    """Over loopback: the SDK's submit_tool_outputs_and_poll stops at the stale requires_action
    and hands back the call that was already answered; a naive resubmit is refused."""
    thread_id, created = _start(live, "stale-requires-action-after-submit")
    waiting = live.beta.threads.runs.poll(created.id, thread_id=thread_id, poll_interval_ms=1)
    assert waiting.status == "requires_action"
    assert waiting.required_action is not None
    (call,) = waiting.required_action.submit_tool_outputs.tool_calls
    after = live.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=created.id,
        thread_id=thread_id,
        tool_outputs=[{"tool_call_id": call.id, "output": ORDER_OUTPUT}],
        poll_interval_ms=1,
    )
    assert after.status == "requires_action"
    assert after.required_action is not None
    assert [c.id for c in after.required_action.submit_tool_outputs.tool_calls] == [call.id]
    with pytest.raises(openai.BadRequestError, match="do not accept tool outputs"):
        _submit(live, thread_id, created.id, call.id)
    final = live.beta.threads.runs.poll(created.id, thread_id=thread_id, poll_interval_ms=1)
    assert final.status == "completed"
    assert len(served.sim.tool_outputs(created.id)) == 1
