"""Server profiles on ``/v1/responses``: poll-after headers per op, garbage, odd headers, and the
two behaviours the API leaves open (cancel of a finished response; a cancel race lost)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import openai
import pytest

from adapters.simulator import ALL_RESPONSE_OPS, ManualClock, ServerProfile, Simulator

from .conftest import IN_PROCESS_URL
from .responses_helpers import POLL, retrieve, strict_response

MakeSim = Callable[..., Simulator]


def _client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    )


def _every_response_op(client: openai.OpenAI, clock: ManualClock) -> dict[str, httpx2.Response]:
    """One answer of each response op: op -> raw HTTP response."""
    created = client.responses.with_raw_response.create(model="m", input="x", background=True)
    response_id = created.parse().id
    clock.advance(0.01)
    retrieved = client.responses.with_raw_response.retrieve(response_id)
    cancelled = client.responses.with_raw_response.cancel(response_id)
    raw = {
        "response.create": created,
        "response.retrieve": retrieved,
        "response.cancel": cancelled,
    }
    return {op: r.http_response for op, r in raw.items()}


@pytest.mark.parametrize(
    ("profile", "expected"),
    [
        ("reference", dict.fromkeys(ALL_RESPONSE_OPS, "20")),
        (
            "get-only-poll-after",
            {"response.create": None, "response.retrieve": "50", "response.cancel": None},
        ),
        ("no-poll-after", dict.fromkeys(ALL_RESPONSE_OPS)),
        ("cancel-400-forks", dict.fromkeys(ALL_RESPONSE_OPS, "20")),
    ],
)
def test_poll_after_on_response_ops_follows_the_profile(
    make_sim: MakeSim, clock: ManualClock, profile: str, expected: dict[str, str | None]
) -> None:
    """Which response answers carry openai-poll-after-ms, per shipped profile."""
    with _client(make_sim(profile=profile)) as client:
        answers = _every_response_op(client, clock)
    assert {op: r.headers.get(POLL) for op, r in answers.items()} == expected


def test_a_profile_may_name_response_ops_alone(make_sim: MakeSim, clock: ManualClock) -> None:
    """poll_after_on with response ops only: the runs get none, the responses do."""
    profile = ServerProfile(
        "responses-only", "x", poll_after_ms=33, poll_after_on=frozenset({"response.retrieve"})
    )
    sim = make_sim(profile=profile)
    with _client(sim) as client:
        answers = _every_response_op(client, clock)
        thread = client.beta.threads.create()
        assistant = client.beta.assistants.create(model="m")
        run = client.beta.threads.runs.with_raw_response.create(
            thread_id=thread.id, assistant_id=assistant.id
        )
    assert answers["response.retrieve"].headers[POLL] == "33"
    assert POLL not in answers["response.create"].headers
    assert POLL not in run.http_response.headers


def test_odd_headers_send_raw_texts_on_responses(make_sim: MakeSim, clock: ManualClock) -> None:
    """odd-headers: the raw poll-after texts in turn, header oddities on response answers."""
    with _client(make_sim(profile="odd-headers")) as client:
        answers = _every_response_op(client, clock)
    assert [answers[op].headers[POLL] for op in ("response.create", "response.retrieve")] == [
        "nan",
        "inf",
    ]
    for answer in answers.values():
        assert answer.headers["content-type"] == "application/json; charset=utf-8"
        assert answer.headers["x-sim-oddity"] == "unknown-header"


def _kind(answer: httpx2.Response, response_id: str) -> str:
    if answer.headers["content-type"].startswith("text/html"):
        return "html"
    try:
        data = json.loads(answer.content)
    except ValueError:
        return "malformed-json"
    if isinstance(data, list):
        assert data == [{"id": response_id, "object": "response"}]
        return "json-array"
    if "status" not in data:
        assert data["id"] == response_id
        return "without-status"
    assert strict_response(data).id == response_id
    return "response"


def test_garbage_bodies_answer_every_third_get_of_a_response(make_sim: MakeSim) -> None:
    """garbage-bodies: GETs 3, 6, 9, 12 of a response are not responses, in turn."""
    with _client(make_sim(profile="garbage-bodies")) as client:
        response_id = client.responses.create(model="m", input="x", background=True).id
        answers = [
            client.responses.with_raw_response.retrieve(response_id).http_response
            for _ in range(12)
        ]
    kinds = [_kind(a, response_id) for a in answers]
    assert kinds == ["response", "response", "malformed-json"] + ["response"] * 2 + ["html"] + [
        "response"
    ] * 2 + ["json-array"] + ["response"] * 2 + ["without-status"]
    assert [POLL in a.headers for a in answers] == [k == "response" for k in kinds]


@pytest.fixture
def finished(make_sim: MakeSim, clock: ManualClock) -> Iterator[Callable[[str], tuple[str, Any]]]:
    """Makes a simulator with a profile and a completed background response in it."""
    clients: list[openai.OpenAI] = []

    def make(profile: str) -> tuple[str, openai.OpenAI]:
        client = _client(make_sim(profile=profile))
        clients.append(client)
        response_id = client.responses.create(
            model="m", input="x", background=True, metadata={"scenario": "text"}
        ).id
        clock.advance(1)
        assert retrieve(client, response_id)[0].status == "completed"
        return response_id, client

    yield make
    for client in clients:
        client.close()


def test_reference_returns_a_finished_response_unchanged_on_cancel(
    finished: Callable[[str], tuple[str, openai.OpenAI]],
) -> None:
    """reference: cancelling a completed background response is a 200 with it unchanged."""
    response_id, client = finished("reference")
    before = retrieve(client, response_id)[0]
    after = client.responses.cancel(response_id)
    assert after == before


def test_cancel_400_forks_refuses_to_cancel_a_finished_response(
    finished: Callable[[str], tuple[str, openai.OpenAI]],
) -> None:
    """cancel-400-forks: cancelling a completed background response is a 400."""
    response_id, client = finished("cancel-400-forks")
    with pytest.raises(openai.BadRequestError) as info:
        client.responses.cancel(response_id)
    assert info.value.body == {
        "message": "Cannot cancel a response that is already completed.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def test_a_cancel_goes_straight_to_cancelled(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """A queued and an in-progress background response both answer the cancel 'cancelled'."""
    queued = client.responses.create(model="m", input="x", background=True)
    working = client.responses.create(
        model="m", input="x", background=True, metadata={"scenario": "never-finishes"}
    )
    assert client.responses.cancel(queued.id).status == "cancelled"
    clock.advance(1)
    assert retrieve(client, working.id)[0].status == "in_progress"
    assert client.responses.cancel(working.id).status == "cancelled"
    clock.advance(10)
    assert [retrieve(client, r.id)[0].status for r in (queued, working)] == ["cancelled"] * 2
    assert [s for s, _ in sim.response_history(working.id)] == [
        "queued",
        "in_progress",
        "cancelled",
    ]


def test_a_lost_cancel_race_reads_completed_later(
    client: openai.OpenAI, sim: Simulator, clock: ManualClock
) -> None:
    """cancel-loses-race: the cancel answers cancelled, a later read says completed (with the
    answer), as a compatible service was seen to do."""
    created = client.responses.create(
        model="m", input="x", background=True, metadata={"scenario": "cancel-loses-race"}
    )
    clock.advance(0.03)
    assert client.responses.cancel(created.id).status == "cancelled"
    assert retrieve(client, created.id)[0].status == "cancelled"
    clock.advance(1)
    late = retrieve(client, created.id)[0]
    assert (late.status, late.output_text) == ("completed", "Finished anyway.")
    assert [s for s, _ in sim.response_history(created.id)] == [
        "queued",
        "in_progress",
        "cancelled",
        "completed",
    ]
