"""``/v1/responses`` through the real SDK: background and foreground, chains of function calls.

Every scenario of the Assistants side plays across a chain of responses: a ``CallTools`` step
completes a response with its ``function_call`` items and the next response, created with
``previous_response_id`` and the outputs, plays on.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import openai
import pytest

from adapters.simulator import (
    Answer,
    CallTools,
    CancelBehaviour,
    ManualClock,
    Queue,
    Scenario,
    Simulator,
    SimulatorServer,
    ToolCallSpec,
)
from adapters.simulator.scenarios import ORDER_ITEMS

from .conftest import IN_PROCESS_URL
from .responses_helpers import ORDER_TOOL, POLL, answers, drive_chain, retrieve, strict_response

MakeSim = Callable[..., Simulator]


def test_a_background_create_is_queued_and_carries_the_request(
    client: openai.OpenAI, sim: Simulator
) -> None:
    """A background create answers the new response queued, with what was asked echoed."""
    raw = client.responses.with_raw_response.create(
        model="gpt-sim",
        input="How much is my order?",
        instructions="Be brief.",
        background=True,
        tools=[ORDER_TOOL],
        metadata={"run": "r1"},
    )
    response = strict_response(raw.http_response.json())
    assert (response.status, response.background, response.object) == ("queued", True, "response")
    assert response.id.startswith("resp_")
    assert (response.model, response.instructions, response.metadata) == (
        "gpt-sim",
        "Be brief.",
        {"run": "r1"},
    )
    assert [t.type for t in response.tools] == ["function"]
    assert (response.output, response.output_text, response.error) == ([], "", None)
    assert response.previous_response_id is None
    assert raw.headers[POLL] == "20"
    assert sim.response_events(response.id) == ["response.created", "response.queued"]


def test_the_order_total_chain_ends_with_the_submitted_output(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """order-total: the first response completes with one call; the answer quotes the output."""
    first, second = drive_chain(client, clock, "order-total", output="$280.00")
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (first.status, call.name, json.loads(call.arguments)) == (
        "completed",
        "calculate_order_total",
        ORDER_ITEMS,
    )
    assert call.call_id.startswith("call_")
    assert (call.id or "").startswith("fc_")
    assert first.output_text == ""
    assert second.previous_response_id == first.id
    assert second.status == "completed"
    assert second.output_text == "The total price of your order is $280.00."
    assert second.usage is not None
    assert second.completed_at is not None
    chain = sim.response_chain(second.id)
    assert [e.response_id for e in chain] == [first.id, second.id]
    assert [o.output for o in chain[1].outputs] == ["$280.00"]
    assert chain[1].outputs[0].tool_call_id == call.call_id
    assert [c.tool_call_id for c in chain[0].calls] == [call.call_id]
    assert chain[0].answered_by == (second.id,)
    assert sim.response_chain(first.id) == chain


@pytest.mark.parametrize(
    ("scenario", "statuses", "text"),
    [
        ("text", ["completed"], "Hello! How can I help you today?"),
        ("parallel-tools", ["completed", "completed"], "Results: 42, 42, 42."),
        ("two-rounds", ["completed"] * 3, "After two rounds: 42, 42."),
        ("fails", ["failed"], ""),
        ("incomplete", ["incomplete"], "The total price of your"),
    ],
)
def test_each_scenario_plays_across_its_chain(
    client: openai.OpenAI, clock: ManualClock, scenario: str, statuses: list[str], text: str
) -> None:
    """Each response of the chain ends as the scenario says; the last one carries the text."""
    chain = drive_chain(client, clock, scenario)
    assert [r.status for r in chain] == statuses
    assert chain[-1].output_text == text


def test_failed_and_incomplete_responses_say_why(client: openai.OpenAI, clock: ManualClock) -> None:
    """A failed response has an error; an incomplete one its reason (Responses wording)."""
    [failed] = drive_chain(client, clock, "fails")
    [incomplete] = drive_chain(client, clock, "incomplete")
    assert failed.error is not None
    assert failed.error.code == "server_error"
    assert failed.usage is None
    assert incomplete.incomplete_details is not None
    assert incomplete.incomplete_details.reason == "max_output_tokens"
    assert [o.status for o in incomplete.output if o.type == "message"] == ["incomplete"]


def test_the_scenario_is_carried_along_the_chain(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """Only the first create names the scenario; the next one plays on without repeating it."""
    chain = drive_chain(client, clock, "two-rounds")
    assert [r.metadata for r in chain] == [{"scenario": "two-rounds"}, {}, {}]
    assert {e.scenario for e in sim.response_chain(chain[-1].id)} == {"two-rounds"}


def test_the_default_scenario_applies_without_metadata(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """No metadata: the simulator's default scenario (here text)."""
    sim = make_sim(default_scenario="text")
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        [response] = drive_chain(client, clock, None)
    assert response.output_text == "Hello! How can I help you today?"


def test_a_response_is_picked_up_after_its_queue_step(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """queued for the Queue step, in_progress while it works, completed at the end."""
    created = client.responses.create(model="m", input="hi", background=True)
    seen = []
    for _ in range(6):
        seen.append(retrieve(client, created.id)[0].status)
        clock.advance(0.015)
    assert seen[0] == "queued"
    assert "in_progress" in seen
    assert seen[-1] == "completed"
    assert [s for s, _ in sim.response_history(created.id)] == [
        "queued",
        "in_progress",
        "completed",
    ]


def test_a_foreground_create_answers_only_when_finished(make_sim: MakeSim) -> None:
    """background false: the create itself returns the finished response (the clock moves)."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        response = client.responses.create(model="m", input="Total?", tools=[ORDER_TOOL])
        assert (response.status, response.background) == ("completed", False)
        follow = client.responses.create(
            model="m", previous_response_id=response.id, input=answers(response, "$9")
        )
    assert follow.output_text == "The total price of your order is $9."
    assert [s for s, _ in sim.response_history(response.id)] == ["in_progress", "completed"]


def test_instructions_are_not_carried_over(client: openai.OpenAI, clock: ManualClock) -> None:
    """The next response has the instructions it was created with, not its previous one's."""
    first = client.responses.create(model="m", input="x", instructions="A", background=True)
    clock.advance(1)
    nxt = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=answers(retrieve(client, first.id)[0]),
        background=True,
    )
    assert (first.instructions, nxt.instructions) == ("A", None)


def test_delete_then_every_read_is_a_404(client: openai.OpenAI, clock: ManualClock) -> None:
    """DELETE answers the deletion; afterwards retrieve, cancel and a second delete are 404."""
    created = client.responses.create(model="m", input="x", background=True)
    raw = client.responses.with_raw_response.delete(created.id)
    assert raw.http_response.json() == {"id": created.id, "object": "response", "deleted": True}
    for call in (client.responses.retrieve, client.responses.cancel, client.responses.delete):
        with pytest.raises(openai.NotFoundError) as info:
            call(created.id)
        assert info.value.body == {
            "message": f"Response with id '{created.id}' not found.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }


def test_input_items_list_what_the_response_was_created_with(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    """input_items: the user message of the first response; the outputs of the next one."""
    first = client.responses.create(model="m", input="How much?", background=True)
    clock.advance(1)
    outputs = answers(retrieve(client, first.id)[0], "$5")
    nxt = client.responses.create(
        model="m", previous_response_id=first.id, input=outputs, background=True
    )
    [message] = client.responses.input_items.list(first.id).data
    assert message.type == "message"
    assert [(c.type, getattr(c, "text", None)) for c in message.content] == [
        ("input_text", "How much?")
    ]
    [output] = client.responses.input_items.list(nxt.id, order="asc").data
    assert output.type == "function_call_output"
    assert (output.call_id, output.output) == (outputs[0]["call_id"], "$5")


def test_a_structured_output_is_recorded_as_text(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """An output given as content parts is recorded as their text."""
    first = client.responses.create(model="m", input="x", background=True)
    clock.advance(1)
    call_id = answers(retrieve(client, first.id)[0])[0]["call_id"]
    parts = [{"type": "input_text", "text": "$1"}, {"type": "input_text", "text": "2"}]
    nxt = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call_id, "output": parts}],
        background=True,
    )
    assert [o.output for o in sim.response_chain(nxt.id)[1].outputs] == ["$12"]


def test_a_custom_scenario_with_two_calls_records_both_outputs(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """add_scenario works for responses; outputs are recorded in request order."""
    sim = make_sim()
    calls = (ToolCallSpec.of("a", {}), ToolCallSpec.of("b", {}))
    sim.add_scenario("ab", Scenario((Queue(), CallTools(calls), Answer("{outputs}"))))
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        first = client.responses.create(
            model="m", input="x", background=True, metadata={"scenario": "ab"}
        )
        clock.advance(1)
        items = answers(retrieve(client, first.id)[0])
        items[0]["output"], items[1]["output"] = "A", "B"
        nxt = client.responses.create(
            model="m", previous_response_id=first.id, input=list(reversed(items)), background=True
        )
        clock.advance(1)
        assert retrieve(client, nxt.id)[0].output_text == "B, A"
    assert [(o.name, o.output) for o in sim.response_chain(nxt.id)[1].outputs] == [
        ("b", "B"),
        ("a", "A"),
    ]


def test_the_async_sdk_drives_a_chain_in_process(make_sim: MakeSim) -> None:
    """AsyncOpenAI over sim.async_http_client(): create, retrieve, next response."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    clock = sim.clock
    assert isinstance(clock, ManualClock)

    async def main() -> str:
        async with openai.AsyncOpenAI(
            base_url=IN_PROCESS_URL,
            api_key="sk",
            http_client=sim.async_http_client(),
            max_retries=0,
        ) as client:
            first = await client.responses.create(model="m", input="x", background=True)
            clock.advance(1)
            done = await client.responses.retrieve(first.id)
            nxt = await client.responses.create(
                model="m", previous_response_id=first.id, input=answers(done, "$3")
            )
            return nxt.output_text  # foreground: answered finished

    assert asyncio.run(main()) == "The total price of your order is $3."


def test_the_sdk_drives_a_chain_over_loopback() -> None:
    """SimulatorServer(sim).base_url serves client.responses.* over real HTTP."""
    clock = ManualClock()
    with (
        SimulatorServer(Simulator(clock=clock)) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk", max_retries=0) as client,
    ):
        first, second = drive_chain(client, clock, "order-total", output="$7")
        assert second.output_text == "The total price of your order is $7."
        assert [e.response_id for e in server.sim.response_chain(first.id)] == [
            first.id,
            second.id,
        ]


def test_a_follow_up_to_a_text_answer_starts_a_new_turn(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """After a response without calls, a next response plays its scenario from the start (here
    the previous one's, carried); another scenario may be named for the new turn."""
    [first] = drive_chain(client, clock, "text")
    again = client.responses.create(
        model="m", previous_response_id=first.id, input="And again?", background=True
    )
    other = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input="Now my order?",
        background=True,
        metadata={"scenario": "order-total"},
    )
    clock.advance(1)
    assert retrieve(client, again.id)[0].output_text == "Hello! How can I help you today?"
    assert [o.type for o in retrieve(client, other.id)[0].output] == ["function_call"]
    assert sim.response_chain(first.id)[0].answered_by == (again.id, other.id)
    assert [e.scenario for e in sim.response_chain(other.id)] == ["text", "order-total"]


def test_a_cancel_lost_at_once_flips_on_the_next_read(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """CancelBehaviour(confirm_after=0, outcome=failed): the cancel answers cancelled, the next
    read already says failed."""
    sim = make_sim()
    sim.add_scenario(
        "flaky",
        Scenario((Queue(), Answer("x")), cancel=CancelBehaviour(confirm_after=0, outcome="failed")),
    )
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        created = client.responses.create(
            model="m", input="x", background=True, metadata={"scenario": "flaky"}
        )
        assert client.responses.cancel(created.id).status == "cancelled"
        late = retrieve(client, created.id)[0]
    assert late.status == "failed"
    assert late.error is not None
    assert [s for s, _ in sim.response_history(created.id)] == ["queued", "cancelled", "failed"]
