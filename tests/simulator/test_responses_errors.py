"""What ``/v1/responses`` refuses, in the real server's words where they are known.

Each refusal is a 400 ``invalid_request_error`` (404 for an unknown response in the URL) with the
body the SDK turns into ``openai.BadRequestError`` / ``NotFoundError``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from adapters.simulator import ManualClock, Simulator

from .conftest import IN_PROCESS_URL
from .responses_helpers import answers, retrieve

MakeSim = Callable[..., Simulator]
SCRIPT = "requires-action-then-failed"


def _error(info: pytest.ExceptionInfo[openai.APIStatusError]) -> tuple[int, Any]:
    return info.value.status_code, info.value.body


def _finished(client: openai.OpenAI, clock: ManualClock, scenario: str = "order-total") -> Any:
    created = client.responses.create(
        model="m", input="x", background=True, metadata={"scenario": scenario}
    )
    clock.advance(1)
    response, _ = retrieve(client, created.id)
    assert response.status == "completed"
    return response


def _next(client: openai.OpenAI, previous: str, items: Any, **kwargs: Any) -> Any:
    return client.responses.create(
        model="m", previous_response_id=previous, input=items, background=True, **kwargs
    )


def test_a_next_response_must_answer_every_call(client: openai.OpenAI, clock: ManualClock) -> None:
    """One call left without output: 400 'No tool output found for function call <id>.'"""
    first = _finished(client, clock, "parallel-tools")
    items = answers(first)
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, items[:2])
    assert _error(info) == (
        400,
        {
            "message": f"No tool output found for function call {items[2]['call_id']}.",
            "type": "invalid_request_error",
            "param": "input",
            "code": None,
        },
    )


def test_an_output_for_an_unknown_call_is_refused(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    """An output whose call_id was not called: 400 'No tool call found ... call_id <id>.'"""
    first = _finished(client, clock)
    items = [*answers(first), {"type": "function_call_output", "call_id": "call_x", "output": ""}]
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, items)
    assert info.value.body == {
        "message": "No tool call found for function call output with call_id call_x.",
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }


def test_outputs_after_a_response_without_calls_are_unknown(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    """A text answer has no calls: any function_call_output names an unknown call."""
    first = _finished(client, clock, "text")
    with pytest.raises(openai.BadRequestError, match="No tool call found"):
        _next(client, first.id, [{"type": "function_call_output", "call_id": "c", "output": ""}])


def test_two_outputs_for_one_call_are_refused(client: openai.OpenAI, clock: ManualClock) -> None:
    """The same call_id twice in one request: 400 (the simulator's own wording)."""
    first = _finished(client, clock)
    items = answers(first) * 2
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, items)
    assert info.value.body["message"] == (  # type: ignore[index]
        f"Duplicate function call output for call_id {items[0]['call_id']}."
    )


def test_an_unknown_previous_response_is_a_400(client: openai.OpenAI) -> None:
    """previous_response_not_found is a 400 about the request, not a 404 about the URL."""
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, "resp_missing", "hello")
    assert _error(info) == (
        400,
        {
            "message": "Previous response with id 'resp_missing' not found.",
            "type": "invalid_request_error",
            "param": "previous_response_id",
            "code": "previous_response_not_found",
        },
    )


def test_a_deleted_previous_response_is_not_found(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    """After DELETE, the response cannot be continued."""
    first = _finished(client, clock)
    client.responses.delete(first.id)
    with pytest.raises(openai.BadRequestError, match="not found"):
        _next(client, first.id, answers(first))


def test_previous_response_and_conversation_are_exclusive(client: openai.OpenAI) -> None:
    """Both given: 400 mutually_exclusive_parameters, checked before the lookup."""
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, "resp_missing", "hi", conversation="conv_1")
    assert info.value.body == {
        "message": "Mutually exclusive parameters. Ensure you are only providing one of: "
        "'previous_response_id' or 'conversation'.",
        "type": "invalid_request_error",
        "param": None,
        "code": "mutually_exclusive_parameters",
    }


def test_a_conversation_is_not_served(client: openai.OpenAI) -> None:
    """The simulator serves no conversations: conversation alone is refused."""
    with pytest.raises(openai.BadRequestError, match="Conversation with id 'conv_1' not found"):
        client.responses.create(model="m", input="hi", conversation={"id": "conv_1"})


def test_an_unfinished_previous_response_cannot_be_continued(client: openai.OpenAI) -> None:
    """A previous response still queued is refused (400, param previous_response_id)."""
    first = client.responses.create(model="m", input="x", background=True)
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, "more")
    assert info.value.body["param"] == "previous_response_id"  # type: ignore[index]
    assert "is still queued" in info.value.body["message"]  # type: ignore[index]


def test_a_second_live_answer_is_refused_by_default(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """reference: the same calls answered twice while the first answer lives is a 400."""
    first = _finished(client, clock)
    answer = _next(client, first.id, answers(first))
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, answers(first))
    assert info.value.body == {
        "message": f"Previous response with id '{first.id}' was already answered by response "
        f"'{answer.id}'.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": None,
    }
    assert sim.response_chain(first.id)[0].answered_by == (answer.id,)


def test_an_answer_that_ended_badly_may_be_retried(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """Once the first answer is cancelled, answering the same calls again is accepted."""
    first = _finished(client, clock)
    answer = _next(client, first.id, answers(first))
    client.responses.cancel(answer.id)
    retry = _next(client, first.id, answers(first))
    assert sim.response_chain(first.id)[0].answered_by == (answer.id, retry.id)


def test_the_fork_profile_accepts_a_second_answer(make_sim: MakeSim, clock: ManualClock) -> None:
    """cancel-400-forks: each answer continues its own branch of the chain."""
    sim = make_sim(profile="cancel-400-forks")
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        first = _finished(client, clock)
        one = _next(client, first.id, answers(first, "$1"))
        two = _next(client, first.id, answers(first, "$2"))
        clock.advance(1)
        texts = [retrieve(client, r.id)[0].output_text for r in (one, two)]
    assert texts == [
        "The total price of your order is $1.",
        "The total price of your order is $2.",
    ]
    assert sim.response_chain(first.id)[0].answered_by == (one.id, two.id)
    assert [e.response_id for e in sim.response_chain(two.id)] == [first.id, two.id]


@pytest.mark.parametrize(
    ("kwargs", "message", "param", "code"),
    [
        (
            {"model": "m"},
            "Missing required parameter: 'input'.",
            "input",
            "missing_required_parameter",
        ),
        (
            {"input": "x"},
            "Missing required parameter: 'model'.",
            "model",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "input": "x", "extra_body": {"colour": "red"}},
            "Unknown parameter: 'colour'.",
            "colour",
            "unknown_parameter",
        ),
        (
            {"model": "m", "input": [{"type": "function_call_output", "output": "1"}]},
            "Missing required parameter: 'input[0].call_id'.",
            "input[0].call_id",
            "missing_required_parameter",
        ),
        (
            {"model": "m", "input": "x", "metadata": {"scenario": "nope"}},
            None,
            "metadata.scenario",
            "invalid_value",
        ),
        (
            {"model": "m", "input": "x", "metadata": {"scenario": SCRIPT}},
            "Simulator scenario 'requires-action-then-failed' is a status script; status "
            "scripts serve Assistants runs only.",
            "metadata.scenario",
            "invalid_value",
        ),
    ],
)
def test_malformed_creates_are_refused(
    client: openai.OpenAI, kwargs: Any, message: str | None, param: str, code: str
) -> None:
    """Missing or unknown fields, unknown scenarios, status scripts: 400 with the param."""
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.create(**kwargs)
    body: Any = info.value.body
    assert (body["param"], body["code"], body["type"]) == (param, code, "invalid_request_error")
    if message is not None:
        assert body["message"] == message


def test_an_unknown_response_in_the_url_is_a_404(client: openai.OpenAI) -> None:
    """retrieve, cancel, delete and input_items of an unknown id: 404."""
    for call in (
        client.responses.retrieve,
        client.responses.cancel,
        client.responses.delete,
        client.responses.input_items.list,
    ):
        with pytest.raises(openai.NotFoundError, match="Response with id 'resp_x' not found"):
            call("resp_x")


def test_a_foreground_response_cannot_be_cancelled(make_sim: MakeSim) -> None:
    """Cancel of a response created without background: 400, whatever its status."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        response = client.responses.create(model="m", input="x", metadata={"scenario": "text"})
        with pytest.raises(openai.BadRequestError) as info:
            client.responses.cancel(response.id)
    assert info.value.body == {
        "message": "Cannot cancel a synchronous response.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_starting_after_must_be_an_integer(client: openai.OpenAI) -> None:
    """GET ?stream=true&starting_after=abc: 400 invalid_type."""
    created = client.responses.create(model="m", input="x", background=True)
    with pytest.raises(openai.BadRequestError, match="starting_after"):
        client.responses.retrieve(created.id, extra_query={"starting_after": "abc"})
