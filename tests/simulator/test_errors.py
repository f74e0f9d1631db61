"""OpenAI-shaped errors with the API's texts, and the openai-poll-after-ms header."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import openai
import pytest

from adapters.simulator import ManualClock, Simulator

from .helpers import retrieve

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


def _body(err: pytest.ExceptionInfo[openai.APIStatusError]) -> dict[str, Any]:
    body = err.value.body
    assert isinstance(body, dict)
    assert set(body) == {"message", "type", "param", "code"}
    return body


def _waiting_run(client: openai.OpenAI, clock: ManualClock, scenario: str) -> tuple[str, str]:
    asst = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(
        thread_id=thread.id, assistant_id=asst.id, metadata={"scenario": scenario}
    )
    clock.advance(1)
    return thread.id, run.id


def test_thread_is_locked_while_a_run_is_active(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Adding a message or creating a run on a busy thread gives the API's 400s."""
    thread_id, run_id = _waiting_run(client, clock, "order-total")
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.messages.create(thread_id, role="user", content="more")
    assert (
        _body(err)["message"]
        == f"Can't add messages to {thread_id} while a run {run_id} is active."
    )
    asst = sim.runs[run_id].assistant_id
    with pytest.raises(openai.BadRequestError) as err2:
        client.beta.threads.runs.create(thread_id=thread_id, assistant_id=asst)
    assert _body(err2)["message"] == f"Thread {thread_id} already has an active run {run_id}."
    assert _body(err2)["type"] == "invalid_request_error"


def test_outputs_refused_outside_requires_action(
    sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Submitting while in_progress gives the API's 'do not accept tool outputs' 400."""
    thread_id, run_id = _waiting_run(client, clock, "never-finishes")
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": "c", "output": "1"}]
        )
    assert _body(err)["message"] == 'Runs in status "in_progress" do not accept tool outputs.'


@pytest.mark.parametrize("kind", ["partial", "extra", "duplicate", "empty"])
def test_tool_output_ids_must_match_exactly(
    kind: str, sim: Simulator, client: openai.OpenAI, clock: ManualClock
) -> None:
    """Partial, extra or duplicate ids are refused (naming the ids) and the run keeps waiting."""
    thread_id, run_id = _waiting_run(client, clock, "parallel-tools")
    run, _ = retrieve(client, thread_id, run_id)
    assert run.required_action is not None
    ids = [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
    given = {
        "partial": ids[:2],
        "extra": [*ids, "call_bogus"],
        "duplicate": [*ids, ids[0]],
        "empty": [],
    }[kind]
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.submit_tool_outputs(
            run_id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": i, "output": "x"} for i in given],
        )
    message = _body(err)["message"]
    named = {"partial": ids[2], "extra": "call_bogus", "duplicate": ids[0], "empty": ids[0]}[kind]
    assert named in message
    assert retrieve(client, thread_id, run_id)[0].status == "requires_action"
    assert sim.tool_outputs(run_id) == []


def test_cancel_finished_run(sim: Simulator, client: openai.OpenAI, clock: ManualClock) -> None:
    """Cancelling a completed run gives the API's 400."""
    thread_id, run_id = _waiting_run(client, clock, "text")
    with pytest.raises(openai.BadRequestError) as err:
        client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    assert _body(err)["message"] == "Cannot cancel run with status 'completed'."


def test_unknown_ids_are_404(sim: Simulator, client: openai.OpenAI, clock: ManualClock) -> None:
    """Unknown assistant, thread, run and step ids give OpenAI-shaped 404s."""
    thread_id, run_id = _waiting_run(client, clock, "text")
    calls: list[Callable[[], object]] = [
        lambda: client.beta.assistants.retrieve("asst_nope"),
        lambda: client.beta.threads.retrieve("thread_nope"),
        lambda: client.beta.threads.runs.retrieve("run_nope", thread_id=thread_id),
        lambda: client.beta.threads.runs.cancel("run_nope", thread_id=thread_id),
        lambda: client.beta.threads.runs.steps.retrieve(
            "step_nope", thread_id=thread_id, run_id=run_id
        ),
        lambda: client.beta.threads.runs.create(thread_id=thread_id, assistant_id="asst_nope"),
    ]
    for call in calls:
        with pytest.raises(openai.NotFoundError) as err:
            call()
        assert "nope" in _body(err)["message"]


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"{", "could not parse the JSON body"),
        (b"\xff\xfe", "could not parse the JSON body"),
        (b"[1, 2]", "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"assistant_id": "a", "bogus": 1}', "Unrecognized request argument supplied: bogus"),
        (b"{}", "Missing required parameter: 'assistant_id'."),
        (b'{"assistant_id": 5}', "Invalid value for 'assistant_id'"),
        (b'{"assistant_id": "a", "metadata": {"scenario": "nope"}}', "Unknown simulator scenario"),
    ],
)
def test_bad_bodies_are_400_not_crashes(
    body: bytes, needle: str, sim: Simulator, client: openai.OpenAI
) -> None:
    """Malformed JSON, non-objects, unknown, missing and mistyped fields give OpenAI 400s."""
    asst = client.beta.assistants.create(model="m")
    thread = client.beta.threads.create()
    body = body.replace(b'"a"', f'"{asst.id}"'.encode())
    with sim.http_client() as http:
        response = http.post(f"http://simulator.local/v1/threads/{thread.id}/runs", content=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert needle in error["message"]
    assert error["type"] == "invalid_request_error"


def test_unknown_route_and_method(sim: Simulator) -> None:
    """An unknown path is a JSON 404 and a wrong method a JSON 405."""
    with sim.http_client() as http:
        missing = http.get("http://simulator.local/v1/nothing/here")
        wrong = http.put("http://simulator.local/v1/threads")
    assert missing.status_code == 404
    assert "Invalid URL" in missing.json()["error"]["message"]
    assert wrong.status_code == 405
    assert "error" in wrong.json()


def test_poll_after_header_on_run_responses(make_sim: Any, clock: ManualClock) -> None:
    """The header is on create, retrieve, submit and cancel responses, and may vary per response."""
    sim = make_sim(poll_after_ms=[100, 200, 300])
    with openai.OpenAI(
        base_url="http://simulator.local/v1",
        api_key="k",
        http_client=sim.http_client(),
        max_retries=0,
    ) as client:
        asst = client.beta.assistants.create(model="m")
        thread = client.beta.threads.create()
        created = client.beta.threads.runs.with_raw_response.create(
            thread_id=thread.id, assistant_id=asst.id
        )
        run_id = created.parse().id
        clock.advance(1)
        waiting = client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread.id)
        call = waiting.parse().required_action.submit_tool_outputs.tool_calls[0]  # type: ignore[union-attr]
        submitted = client.beta.threads.runs.with_raw_response.submit_tool_outputs(
            run_id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": "1"}]
        )
        cancelled = client.beta.threads.runs.with_raw_response.cancel(run_id, thread_id=thread.id)
        values = [
            r.headers["openai-poll-after-ms"] for r in (created, waiting, submitted, cancelled)
        ]
        assert values == ["100", "200", "300", "300"]
        sim.poll_after_ms = lambda run: 7 if run["status"] == "cancelled" else None
        clock.advance(1)
        done = client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread.id)
        assert done.headers["openai-poll-after-ms"] == "7"
        sim.poll_after_ms = None
        plain = client.beta.threads.runs.with_raw_response.retrieve(run_id, thread_id=thread.id)
        assert "openai-poll-after-ms" not in plain.headers
