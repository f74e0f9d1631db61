"""Runs through the real SDK, in-process, on a manual clock: scenarios, fields, expiry."""

from __future__ import annotations

import openai
import pytest
from openai.types.beta import Assistant, Thread
from openai.types.beta.threads import Message
from openai.types.beta.threads.runs import RunStep

from adapters.simulator import (
    SCENARIOS,
    Answer,
    CallTools,
    ManualClock,
    Queue,
    Scenario,
    Simulator,
    ToolCallSpec,
)

from .helpers import drive, retrieve, strict_run

# the SDK marks assistants.* with the bare message "deprecated"
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

Q, IP, RA = "queued", "in_progress", "requires_action"


def _start(client: openai.OpenAI, scenario: str) -> tuple[str, str]:
    asst = client.beta.assistants.create(model="gpt-4o", name="sim")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=asst.id, metadata={"scenario": scenario}
    )
    return thread.id, run.id


EXPECTED = {
    "text": [Q, IP, "completed"],
    "order-total": [Q, IP, RA, Q, IP, "completed"],
    "parallel-tools": [Q, IP, RA, Q, IP, "completed"],
    "two-rounds": [Q, IP, RA, Q, IP, RA, Q, IP, "completed"],
    "unknown-tool": [Q, IP, RA, Q, IP, "completed"],
    "invalid-arguments": [Q, IP, RA, Q, IP, "completed"],
    "fails": [Q, IP, "failed"],
    "incomplete": [Q, IP, "incomplete"],
    "slow-queue": [Q, IP, "completed"],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_scenario_status_sequence(
    name: str, sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Each finishing scenario walks its expected statuses; every response validates strictly."""
    thread_id, run_id = _start(client, name)
    drive(client, clock, thread_id, run_id)
    assert [s for s, _ in sim.run_history(run_id)] == EXPECTED[name]


def test_every_named_scenario_is_covered() -> None:
    """The shipped scenario names include every one the brief requires."""
    required = {"stuck-cancelling", "never-finishes", *EXPECTED}
    assert required <= set(SCENARIOS)


def test_order_total_payloads(sim: Simulator, client: openai.OpenAI, clock: ManualClock) -> None:
    """The seed example: one calculate_order_total call, then the output appears in the answer."""
    thread_id, run_id = _start(client, "order-total")
    seen = drive(client, clock, thread_id, run_id, output='{"total": 280}')
    waiting = next(r for r in seen if r.status == RA)
    assert waiting.required_action is not None
    (call,) = waiting.required_action.submit_tool_outputs.tool_calls
    assert call.function.name == "calculate_order_total"
    assert '"item_type": "books"' in call.function.arguments
    assert sim.tool_outputs(run_id)[0][0].output == '{"total": 280}'
    messages = client.beta.threads.messages.list(thread_id=thread_id, order="asc")
    texts = [m.content[0].text.value for m in messages if m.content[0].type == "text"]
    assert texts[-1] == 'The total price of your order is {"total": 280}.'
    for m in messages:
        Message.model_validate(m.model_dump(), strict=True)


def test_run_fields_follow_the_status(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """expires_at, started_at, required_action, usage and completed_at are set as the API does."""
    thread_id, run_id = _start(client, "order-total")
    seen = drive(client, clock, thread_id, run_id)
    first, last = seen[0], seen[-1]
    assert first.status == Q
    assert first.started_at is None
    assert first.usage is None
    assert first.expires_at == first.created_at + 600
    for run in seen:
        # required_action is set in requires_action and null in every other status
        assert (run.required_action is not None) == (run.status == RA)
        if run.status == IP:
            assert run.started_at is not None
    assert last.status == "completed"
    assert last.expires_at is None
    assert last.completed_at is not None
    assert last.usage is not None
    assert last.failed_at is None
    assert last.cancelled_at is None


def test_failed_and_incomplete_details(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """A failed run carries last_error and failed_at; an incomplete one its reason."""
    t1, r1 = _start(client, "fails")
    failed = drive(client, clock, t1, r1)[-1]
    assert failed.last_error is not None
    assert failed.last_error.code == "server_error"
    assert failed.failed_at is not None
    t2, r2 = _start(client, "incomplete")
    incomplete = drive(client, clock, t2, r2)[-1]
    assert incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_completion_tokens"


def test_requires_action_expires_on_the_clock(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Past expires_at a waiting run is expired; outputs are then refused; the step expires too."""
    thread_id, run_id = _start(client, "order-total")
    clock.advance(1)
    run, _ = retrieve(client, thread_id, run_id)
    assert run.status == RA
    assert run.expires_at is not None
    clock.set(run.expires_at - 0.5)
    assert retrieve(client, thread_id, run_id)[0].status == RA
    clock.advance(0.5)
    expired, _ = retrieve(client, thread_id, run_id)
    assert expired.status == "expired"
    assert expired.expires_at is None
    assert expired.required_action is None
    assert sim.run_history(run_id)[-1] == ("expired", float(run.expires_at))
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "x", "output": "1"}]
        )
    assert err.value.body == {
        "message": 'Runs in status "expired" do not accept tool outputs.',
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }
    steps = list(client.beta.threads.runs.steps.list(run_id, thread_id=thread_id))
    assert [s.status for s in steps] == ["expired"]


def test_never_finishes_expires_from_in_progress(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """A hanging run stays in_progress until expires_at, then expires ("the run took too long")."""
    thread_id, run_id = _start(client, "never-finishes")
    clock.advance(599)
    assert retrieve(client, thread_id, run_id)[0].status == IP
    clock.advance(2)
    assert retrieve(client, thread_id, run_id)[0].status == "expired"


def test_cancel_from_each_cancellable_status(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Cancel returns cancelling from queued, in_progress and requires_action; then cancelled."""
    sim.add_scenario(
        "slow", Scenario((Queue(1.0), CallTools((ToolCallSpec("f"),), 1.0), Answer("x")))
    )
    for wait, before in ((0.0, Q), (1.5, IP), (2.5, RA)):
        thread_id, run_id = _start(client, "slow")
        clock.advance(wait)
        assert retrieve(client, thread_id, run_id)[0].status == before
        raw = client.beta.threads.runs.with_raw_response.cancel(run_id, thread_id=thread_id)
        cancelling = strict_run(raw.http_response.json())
        assert cancelling.status == "cancelling"
        assert cancelling.cancelled_at is None
        assert cancelling.required_action is None
        clock.advance(1)
        done, _ = retrieve(client, thread_id, run_id)
        assert done.status == "cancelled"
        assert done.cancelled_at is not None


def test_stuck_cancelling_never_settles(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """stuck-cancelling: the cancel is accepted and never confirmed, not even by expiry."""
    thread_id, run_id = _start(client, "stuck-cancelling")
    client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    clock.advance(10_000)
    assert retrieve(client, thread_id, run_id)[0].status == "cancelling"


def test_cancel_can_lose_the_race(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """cancel-loses-race: cancelling, then completed with an answer ("cancellation is attempted
    but not guaranteed")."""
    thread_id, run_id = _start(client, "cancel-loses-race")
    clock.advance(0.03)
    client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    clock.advance(1)
    assert retrieve(client, thread_id, run_id)[0].status == "completed"
    assert [s for s, _ in sim.run_history(run_id)][-2:] == ["cancelling", "completed"]
    first = client.beta.threads.messages.list(thread_id=thread_id).data[0]
    assert first.role == "assistant"
    assert first.content[0].type == "text"


def test_steps_follow_the_tool_round(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """The tool_calls step is in_progress while requires_action, completed with outputs after."""
    thread_id, run_id = _start(client, "order-total")
    clock.advance(1)
    (step,) = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id)
    assert step.type == "tool_calls"
    assert step.status == "in_progress"
    run, _ = retrieve(client, thread_id, run_id)
    assert run.required_action is not None
    call_id = run.required_action.submit_tool_outputs.tool_calls[0].id
    client.beta.threads.runs.submit_tool_outputs(
        run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": call_id, "output": "9"}]
    )
    clock.advance(1)
    steps = client.beta.threads.runs.steps.list(run_id, thread_id=thread_id, order="asc")
    tool, message = list(steps)
    assert tool.status == "completed"
    assert message.type == "message_creation"
    assert tool.step_details.type == "tool_calls"
    assert tool.step_details.tool_calls[0].function.output == "9"  # type: ignore[union-attr]
    for s in (tool, message):
        RunStep.model_validate(s.model_dump(), strict=True)


def test_create_and_run_and_scenario_from_assistant(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """POST /threads/runs makes a thread and a run; the assistant's metadata picks the scenario."""
    asst = client.beta.assistants.create(model="gpt-4o", metadata={"scenario": "text"})
    Assistant.model_validate(asst.model_dump(), strict=True)
    run = client.beta.threads.create_and_run(
        assistant_id=asst.id, thread={"messages": [{"role": "user", "content": "hello"}]}
    )
    Thread.model_validate(client.beta.threads.retrieve(run.thread_id).model_dump(), strict=True)
    final = drive(client, clock, run.thread_id, run.id)[-1]
    assert final.status == "completed"
    assert sim.runs[run.id].scenario_name == "text"


def test_lists_paginate_like_the_api(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Message lists are newest first by default and page with after/has_more."""
    thread = client.beta.threads.create()
    ids = [
        client.beta.threads.messages.create(thread.id, role="user", content=f"m{i}").id
        for i in range(5)
    ]
    page = client.beta.threads.messages.list(thread.id, limit=2)
    assert [m.id for m in page.data] == ids[::-1][:2]
    assert page.has_more
    assert [m.id for m in page] == ids[::-1]  # the SDK follows the cursor
    asc = client.beta.threads.messages.list(thread.id, order="asc", after=ids[1])
    assert [m.id for m in asc.data] == ids[2:]
