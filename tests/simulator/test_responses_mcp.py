"""MCP approval requests over ``/v1/responses`` through the real SDK (rule 9 of the simulator's
``_responses_behaviour.py``): a ``RequestApproval`` step completes a response with
``mcp_approval_request`` items; the next response answers each with an ``mcp_approval_response``;
an approved tool runs on the server (an ``mcp_call`` item, at most once per request), a rejected
one never does. Every item and stream event is validated strictly with the SDK's types."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseItemList, ResponseStreamEvent
from openai.types.responses.response_output_item import McpApprovalRequest, McpCall

from adapters.simulator import (
    Answer,
    ManualClock,
    McpToolSpec,
    Queue,
    RequestApproval,
    Scenario,
    Simulator,
)
from adapters.simulator._responses_records import mcp_output

from .conftest import IN_PROCESS_URL
from .responses_helpers import ORDER_TOOL, answers, wait

MakeSim = Callable[..., Simulator]
DEPLOY_ARGS = {"repo": "acme/shop", "ref": "main", "environment": "production"}
DEPLOYED = "deployed acme/shop@main to production"


def _first(client: openai.OpenAI, clock: ManualClock, scenario: str = "mcp-approval") -> Response:
    created = client.responses.create(
        model="m", input="Deploy main.", background=True, metadata={"scenario": scenario}
    )
    return wait(client, clock, created.id)


def _requests(response: Response) -> list[McpApprovalRequest]:
    return [item for item in response.output if isinstance(item, McpApprovalRequest)]


def _decision(request_id: str, approve: bool, reason: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "mcp_approval_response",
        "approval_request_id": request_id,
        "approve": approve,
    }
    if reason is not None:
        item["reason"] = reason
    return item


def _next(client: openai.OpenAI, previous: str, items: Any, **kwargs: Any) -> Any:
    kwargs.setdefault("background", True)
    return client.responses.create(model="m", previous_response_id=previous, input=items, **kwargs)


def test_the_first_response_completes_with_a_valid_mcp_approval_request(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    first = _first(client, clock)  # validated strictly, no unknown field, by ``retrieve``
    assert first.status == "completed"
    (request,) = first.output
    assert isinstance(request, McpApprovalRequest)
    assert (request.type, request.server_label, request.name) == (
        "mcp_approval_request",
        "gitmcp",
        "deploy",
    )
    assert json.loads(request.arguments) == DEPLOY_ARGS
    assert request.id.startswith("mcpr_")
    assert first.output_text == ""
    (entry,) = sim.response_chain(first.id)
    assert [(r.id, r.server_label, r.name) for r in entry.approval_requests] == [
        (request.id, "gitmcp", "deploy")
    ]
    assert (entry.calls, entry.decisions) == ((), ())
    assert sim.mcp_runs() == []


def test_an_approved_request_runs_the_tool_once_and_the_answer_quotes_it(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    first = _first(client, clock)
    (request,) = _requests(first)
    second = wait(client, clock, _next(client, first.id, [_decision(request.id, True)]).id)
    assert second.status == "completed"
    call, message = second.output
    assert isinstance(call, McpCall)
    assert (call.server_label, call.name, call.arguments) == (
        "gitmcp",
        "deploy",
        request.arguments,
    )
    assert (call.output, call.error, call.status) == (DEPLOYED, None, "completed")
    assert call.approval_request_id == request.id
    assert message.type == "message"
    assert second.output_text == f"Deployment: {DEPLOYED}."
    (run,) = sim.mcp_runs()
    assert (run.mcp_call_id, run.approval_request_id, run.response_id) == (
        call.id,
        request.id,
        second.id,
    )
    assert (run.name, run.output) == ("deploy", DEPLOYED)
    _, entry = sim.response_chain(second.id)
    (decision,) = entry.decisions
    assert (decision.request.id, decision.approve, decision.reason, decision.mcp_call_id) == (
        request.id,
        True,
        None,
        call.id,
    )
    clock.advance(5)
    wait(client, clock, second.id)
    assert len(sim.mcp_runs()) == 1  # reading it again runs nothing again


def test_a_rejected_request_never_runs_and_the_model_hears_the_reason(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    first = _first(client, clock)
    (request,) = _requests(first)
    items = [_decision(request.id, False, "not on a Friday")]
    second = wait(client, clock, _next(client, first.id, items).id)
    assert second.status == "completed"
    assert [item.type for item in second.output] == ["message"]
    assert second.output_text == "Deployment: not approved: not on a Friday."
    assert sim.mcp_runs() == []
    _, entry = sim.response_chain(second.id)
    (decision,) = entry.decisions
    assert (decision.approve, decision.reason, decision.mcp_call_id) == (
        False,
        "not on a Friday",
        None,
    )


def test_the_approval_response_is_listed_as_an_input_item(
    client: openai.OpenAI, clock: ManualClock
) -> None:
    first = _first(client, clock)
    (request,) = _requests(first)
    second = _next(client, first.id, [_decision(request.id, False, "no")])
    raw = client.responses.input_items.with_raw_response.list(second.id)
    items = ResponseItemList.model_validate(raw.http_response.json(), strict=True)
    (item,) = items.data
    assert item.type == "mcp_approval_response"
    assert (item.approval_request_id, item.approve, item.reason) == (request.id, False, "no")
    assert item.id


TWO_TOOLS = Scenario(
    (
        Queue(),
        RequestApproval(
            (
                McpToolSpec.of("gitmcp", "deploy", {"ref": "v2"}, output="deployed {ref}"),
                McpToolSpec("gitmcp", "delete_repo", '{"repo": "acme/old"}', "deleted {repo}"),
            )
        ),
        Queue(),
        Answer("Done: {outputs}."),
    )
)


def test_each_request_of_a_round_is_decided_on_its_own(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """Two requests: approve one, reject the other; only the approved tool runs, and its
    ``mcp_call`` comes first; a Queue after the requests keeps the next response queued and
    nothing runs before it is picked up."""
    sim = make_sim(scenarios={"two-tools": TWO_TOOLS})
    with _client(sim) as client:
        first = _first(client, clock, "two-tools")
        deploy, delete = _requests(first)
        assert (deploy.name, delete.name) == ("deploy", "delete_repo")
        items = [_decision(delete.id, False), _decision(deploy.id, True)]
        created = _next(client, first.id, items)
        assert created.status == "queued"
        assert (created.output, sim.mcp_runs()) == ([], [])
        second = wait(client, clock, created.id)
    (call, _message) = second.output
    assert isinstance(call, McpCall)
    assert (call.name, call.output, call.approval_request_id) == (
        "deploy",
        "deployed v2",
        deploy.id,
    )
    assert second.output_text == "Done: not approved, deployed v2."
    assert [run.name for run in sim.mcp_runs()] == ["deploy"]


def _client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk-sim-test", http_client=sim.http_client(), max_retries=0
    )


def test_a_cancel_before_pickup_runs_nothing_and_a_retry_runs_the_tool_once(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """The approved response is cancelled while queued: the tool never ran, so the request may
    be answered again (a cancelled answer no longer counts), and then it runs once."""
    sim = make_sim(scenarios={"two-tools": TWO_TOOLS})
    with _client(sim) as client:
        first = _first(client, clock, "two-tools")
        items = [_decision(r.id, True) for r in _requests(first)]
        cancelled = client.responses.cancel(_next(client, first.id, items).id)
        assert cancelled.status == "cancelled"
        clock.advance(1)
        assert sim.mcp_runs() == []
        retried = wait(client, clock, _next(client, first.id, items).id)
    assert [item.type for item in retried.output] == ["mcp_call", "mcp_call", "message"]
    assert sorted(run.name for run in sim.mcp_runs()) == ["delete_repo", "deploy"]
    assert {run.response_id for run in sim.mcp_runs()} == {retried.id}


def test_a_tool_that_ran_is_never_run_again_even_where_forks_are_allowed(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """``cancel-400-forks`` lets a response be answered twice; approving a request whose tool
    already ran is still refused (at most one run per request), rejecting it is not."""
    sim = make_sim(profile="cancel-400-forks")
    with _client(sim) as client:
        first = _first(client, clock)
        (request,) = _requests(first)
        approved = wait(client, clock, _next(client, first.id, [_decision(request.id, True)]).id)
        with pytest.raises(openai.BadRequestError) as info:
            _next(client, first.id, [_decision(request.id, True)])
        rejected = wait(client, clock, _next(client, first.id, [_decision(request.id, False)]).id)
    assert info.value.body["message"] == (
        f"MCP approval request {request.id} was already approved; its tool ran in response "
        f"'{approved.id}'."
    )
    assert [run.response_id for run in sim.mcp_runs()] == [approved.id]
    assert rejected.output_text == "Deployment: not approved."


def test_a_second_answer_is_refused_by_default(client: openai.OpenAI, clock: ManualClock) -> None:
    first = _first(client, clock)
    (request,) = _requests(first)
    answer = _next(client, first.id, [_decision(request.id, True)])
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, [_decision(request.id, True)])
    assert info.value.body["message"] == (
        f"Previous response with id '{first.id}' was already answered by response '{answer.id}'."
    )


REFUSALS: dict[str, tuple[Callable[[str], list[Any]], Callable[[str], str]]] = {
    "missing": (
        lambda rid: [],
        lambda rid: f"No approval response found for MCP approval request {rid}.",
    ),
    "unknown": (
        lambda rid: [_decision(rid, True), _decision("mcpr_nope", True)],
        lambda rid: (
            "No MCP approval request found for approval response with "
            "approval_request_id mcpr_nope."
        ),
    ),
    "duplicate": (
        lambda rid: [_decision(rid, True), _decision(rid, False)],
        lambda rid: f"Duplicate MCP approval response for approval_request_id {rid}.",
    ),
    "function_call_output": (
        lambda rid: [{"type": "function_call_output", "call_id": rid, "output": "yes"}],
        lambda rid: (
            f"{rid} is an MCP approval request, not a function call; answer it with an "
            "mcp_approval_response."
        ),
    ),
    "output_beside_decision": (
        lambda rid: [
            _decision(rid, True),
            {"type": "function_call_output", "call_id": "call_1", "output": "x"},
        ],
        lambda rid: "No tool call found for function call output with call_id call_1.",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_wrong_answer_to_approval_requests_is_a_400_and_runs_nothing(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock, case: str
) -> None:
    first = _first(client, clock)
    (request,) = _requests(first)
    items, message = REFUSALS[case]
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, items(request.id))
    assert info.value.body == {
        "message": message(request.id),
        "type": "invalid_request_error",
        "param": "input",
        "code": None,
    }
    assert sim.response_chain(first.id)[0].answered_by == ()
    assert sim.mcp_runs() == []


@pytest.mark.parametrize("scenario", ["text", "order-total"])
def test_an_approval_response_where_nothing_asked_for_one_is_unknown(
    client: openai.OpenAI, clock: ManualClock, scenario: str
) -> None:
    first = _first(client, clock, scenario)
    items = [*answers(first), _decision("mcpr_x", True)]
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, items, tools=[ORDER_TOOL])
    assert info.value.body["message"] == (
        "No MCP approval request found for approval response with approval_request_id mcpr_x."
    )


@pytest.mark.parametrize(
    ("item", "param", "code", "message"),
    [
        ({"approve": True}, "approval_request_id", "missing_required_parameter", None),
        ({"approval_request_id": "r"}, "approve", "missing_required_parameter", None),
        (
            {"approval_request_id": "r", "approve": "yes"},
            "approve",
            "invalid_type",
            "Invalid type for 'input[0].approve': expected a boolean, but got str instead.",
        ),
        (
            {"approval_request_id": "r", "approve": False, "reason": 3},
            "reason",
            "invalid_type",
            "Invalid type for 'input[0].reason': expected a string, but got int instead.",
        ),
    ],
)
def test_a_malformed_approval_response_is_refused(
    client: openai.OpenAI,
    clock: ManualClock,
    item: dict[str, Any],
    param: str,
    code: str,
    message: str | None,
) -> None:
    first = _first(client, clock)
    with pytest.raises(openai.BadRequestError) as info:
        _next(client, first.id, [{"type": "mcp_approval_response", **item}])
    body = info.value.body
    assert (body["param"], body["code"]) == (f"input[0].{param}", code)
    assert body["message"] == (message or f"Missing required parameter: 'input[0].{param}'.")


def test_a_foreground_answer_is_answered_with_the_mcp_call(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """A foreground next response starts in_progress: the approved tool runs at once."""
    clock.autoadvance = 0.01
    first = _first(client, clock)
    (request,) = _requests(first)
    raw = client.responses.with_raw_response.create(
        model="m", previous_response_id=first.id, input=[_decision(request.id, True)]
    )
    second = Response.model_validate(raw.http_response.json(), strict=True)
    assert [item.type for item in second.output] == ["mcp_call", "message"]
    assert [run.response_id for run in sim.mcp_runs()] == [second.id]


@pytest.fixture
def auto_client(make_sim: MakeSim) -> Iterator[tuple[openai.OpenAI, Simulator]]:
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    with _client(sim) as client:
        yield client, sim


def _events(client: openai.OpenAI, response_id: str) -> list[Any]:
    raw = client.responses.with_raw_response.retrieve(response_id, stream=True)
    frames = raw.http_response.read().decode().split("\n\n")
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    events = []
    for i, frame in enumerate(frames[:-1]):
        event_line, data_line = frame.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        event = adapter.validate_python(data, strict=True)
        assert (event.sequence_number, event.model_extra) == (i, {})
        events.append(event)
    return events


def test_approval_requests_and_mcp_calls_stream_as_the_sdk_types_them(
    auto_client: tuple[openai.OpenAI, Simulator],
) -> None:
    client, _ = auto_client
    created = client.responses.create(
        model="m", input="x", background=True, metadata={"scenario": "mcp-approval"}
    )
    first = [e for e in _events(client, created.id) if e.type.startswith("response.output_item")]
    assert [e.type for e in first] == ["response.output_item.added", "response.output_item.done"]
    assert {e.item.type for e in first} == {"mcp_approval_request"}
    request_id = first[0].item.id
    answer = _next(client, created.id, [_decision(request_id, True)])
    events = _events(client, answer.id)
    kinds = [e.type for e in events]
    start = kinds.index("response.output_item.added")
    assert kinds[start : start + 4] == [
        "response.output_item.added",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    added, done = events[start].item, events[start + 3].item
    assert (added.type, added.status, added.output) == ("mcp_call", "in_progress", None)
    assert (done.type, done.status, done.output) == ("mcp_call", "completed", DEPLOYED)
    assert events[start + 1].item_id == added.id
    assert kinds[-1] == "response.completed"
    assert events[-1].response.output_text == f"Deployment: {DEPLOYED}."


def test_an_assistants_run_refuses_an_mcp_scenario(sim: Simulator) -> None:
    with _client(sim) as client:
        assistant = client.beta.assistants.create(model="m")
        thread = client.beta.threads.create()
        with pytest.raises(openai.BadRequestError) as info:
            client.beta.threads.runs.create(
                thread.id, assistant_id=assistant.id, metadata={"scenario": "mcp-approval"}
            )
    assert info.value.body["message"] == (
        "Simulator scenario 'mcp-approval' asks for MCP approvals; it plays on /v1/responses only."
    )


def test_the_output_template_fills_the_arguments() -> None:
    spec = McpToolSpec.of(
        "s", "t", {"a": "x", "n": 3, "l": [1]}, "{name}@{server_label}: {a} {n} {l} {zz}"
    )
    assert mcp_output(spec) == "t@s: x 3 [1] {zz}"
    assert mcp_output(McpToolSpec("s", "t", "not json", "{arguments}!")) == "not json!"
    assert mcp_output(McpToolSpec("s", "t", '{"a": "{b}", "b": "no"}', "{a}")) == "{b}"


def test_a_request_approval_step_needs_requests() -> None:
    with pytest.raises(ValueError, match="RequestApproval needs at least one request"):
        Scenario((RequestApproval(()), Answer("x")))
    assert Scenario(
        (RequestApproval((McpToolSpec("s", "t"),)), Queue(), Answer("x"))
    ).responses_only
    assert not Scenario((Queue(), Answer("x"))).responses_only
