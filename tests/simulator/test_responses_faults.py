"""Scripted faults on ``/v1/responses`` paths, seen by the real SDK over loopback HTTP.

The fault layer is the same for every path; these tests pin what a response-chain controller
meets: rate limits with ``retry-after``, 5xx, dropped connections, and a create (or cancel) that
the server applied while its answer was lost.
"""

from __future__ import annotations

import fnmatch
import time

import openai
import pytest

from adapters.simulator import Fault, SimulatorServer

from .responses_helpers import answers


def _statuses(served: SimulatorServer, glob: str) -> list[int | None]:
    return [r.status for r in served.sim.requests if fnmatch.fnmatchcase(r.path, glob)]


def _new(live: openai.OpenAI, scenario: str = "text") -> str:
    return live.responses.create(
        model="m", input="x", background=True, metadata={"scenario": scenario}
    ).id


def test_a_429_on_a_response_get_carries_retry_after(
    served: SimulatorServer, live: openai.OpenAI
) -> None:
    """GET /v1/responses/{id}: one 429 with retry-after(-ms) and the rate-limit body."""
    response_id = _new(live)
    served.sim.faults.add(
        Fault(
            method="GET",
            path="/v1/responses/*",
            status=429,
            headers={"retry-after-ms": "50", "retry-after": "1"},
        )
    )
    with pytest.raises(openai.RateLimitError) as info:
        live.responses.retrieve(response_id)
    assert info.value.response.headers["retry-after-ms"] == "50"
    assert info.value.code == "rate_limit_exceeded"
    assert live.responses.retrieve(response_id).id == response_id
    assert _statuses(served, f"/v1/responses/{response_id}") == [429, 200]


def test_a_create_applied_with_its_answer_lost(
    served: SimulatorServer, live: openai.OpenAI
) -> None:
    """applied_then_fail on POST /v1/responses: the client sees a 500, yet the response exists
    (and, with no list endpoint, can only be found by the simulator's records)."""
    before = set(served.sim.response_ids())
    served.sim.faults.add(
        Fault(method="POST", path="/v1/responses", applied_then_fail="status", status=500)
    )
    with pytest.raises(openai.InternalServerError):
        live.responses.create(model="m", input="x", background=True)
    [created] = set(served.sim.response_ids()) - before
    assert live.responses.retrieve(created).background is True


def test_a_next_response_applied_then_dropped_blocks_a_blind_retry(
    served: SimulatorServer, live: openai.OpenAI
) -> None:
    """The next response of a chain applied, its connection dropped: retrying the same create
    is refused (reference), since the previous response already has a live answer."""
    first_id = _new(live, "order-total")
    first = live.responses.retrieve(first_id)
    while first.status != "completed":
        first = live.responses.retrieve(first_id)
    served.sim.faults.add(Fault(method="POST", path="/v1/responses", applied_then_fail="drop"))
    outputs = answers(first, "$1")
    with pytest.raises(openai.APIConnectionError):
        live.responses.create(
            model="m", previous_response_id=first_id, input=outputs, background=True
        )
    with pytest.raises(openai.BadRequestError, match="already answered"):
        live.responses.create(
            model="m", previous_response_id=first_id, input=outputs, background=True
        )
    [entry] = [e for e in served.sim.response_chain(first_id) if e.response_id == first_id]
    assert len(entry.answered_by) == 1


def test_a_cancel_applied_with_its_answer_lost(
    served: SimulatorServer, live: openai.OpenAI
) -> None:
    """applied_then_fail on cancel: a 503 for the client, a cancelled response on the server."""
    response_id = _new(live, "never-finishes")
    served.sim.faults.add(
        Fault(
            method="POST",
            path="/v1/responses/*/cancel",
            applied_then_fail="status",
            status=503,
        )
    )
    with pytest.raises(openai.InternalServerError):
        live.responses.cancel(response_id)
    assert live.responses.retrieve(response_id).status == "cancelled"


def test_drops_on_response_paths(served: SimulatorServer, live: openai.OpenAI) -> None:
    """before_response and mid_body drops reach the SDK as connection errors."""
    response_id = _new(live)
    served.sim.faults.add(Fault(method="GET", path="/v1/responses/*", drop="before_response"))
    with pytest.raises(openai.APIConnectionError):
        live.responses.retrieve(response_id)
    served.sim.faults.add(Fault(method="GET", path="/v1/responses/*", drop="mid_body"))
    with pytest.raises(openai.APIConnectionError):
        live.responses.retrieve(response_id)
    assert live.responses.retrieve(response_id).id == response_id
    assert _statuses(served, f"/v1/responses/{response_id}") == [None, 200, 200]


def test_a_foreground_create_that_times_out_stops_waiting(served: SimulatorServer) -> None:
    """A foreground create of a response that never finishes: the client times out, the server
    sees the disconnect and ends the wait (recorded as 499); the response itself plays on."""
    before = set(served.sim.response_ids())
    with (
        openai.OpenAI(base_url=served.base_url, api_key="sk", max_retries=0, timeout=0.3) as client,
        pytest.raises(openai.APITimeoutError),
    ):
        client.responses.create(model="m", input="x", metadata={"scenario": "never-finishes"})
    deadline = time.monotonic() + 5
    while 499 not in _statuses(served, "/v1/responses") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert 499 in _statuses(served, "/v1/responses")
    [created] = set(served.sim.response_ids()) - before
    assert served.sim.response_history(created)[-1][0] == "in_progress"
