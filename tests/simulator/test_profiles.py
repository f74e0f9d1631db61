"""Server profiles on the wire, through the real SDK: poll-after headers, SSE, garbage, odd
headers.

Each test reads raw responses (``with_raw_response``) from a simulator on a manual clock,
in-process; ``test_transport_parity.py`` checks that the loopback server sends the same bytes and
headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest

from adapters.simulator import (
    ALL_OPS,
    ALL_RUN_OPS,
    PROFILES,
    ManualClock,
    ServerProfile,
    Simulator,
    StatusScript,
    Step,
    serve,
)

from .conftest import IN_PROCESS_URL
from .helpers import strict_run

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

POLL = "openai-poll-after-ms"
MakeSim = Callable[..., Simulator]


def _client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk-sim-test", http_client=sim.http_client(), max_retries=0
    )


def _assistant(client: openai.OpenAI, scenario: str = "order-total") -> str:
    return client.beta.assistants.create(model="m", metadata={"scenario": scenario}).id


def _thread(client: openai.OpenAI) -> str:
    return client.beta.threads.create(messages=[{"role": "user", "content": "hi"}]).id


def _every_run_op(client: openai.OpenAI, clock: ManualClock) -> dict[str, httpx2.Response]:
    """One response of each run op, on an order-total run: op -> raw HTTP response."""
    runs = client.beta.threads.runs
    thread_id = _thread(client)
    created = runs.with_raw_response.create(thread_id=thread_id, assistant_id=_assistant(client))
    run_id = created.parse().id
    clock.advance(1)
    retrieved = runs.with_raw_response.retrieve(run_id, thread_id=thread_id)
    (call,) = strict_run(
        retrieved.http_response.json()
    ).required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
    updated = runs.with_raw_response.update(run_id, thread_id=thread_id, metadata={"k": "v"})
    listed = runs.with_raw_response.list(thread_id=thread_id)
    submitted = runs.with_raw_response.submit_tool_outputs(
        run_id, thread_id=thread_id, tool_outputs=[{"tool_call_id": call.id, "output": "1"}]
    )
    cancelled = runs.with_raw_response.cancel(run_id, thread_id=thread_id)
    raw = {
        "create": created,
        "retrieve": retrieved,
        "update": updated,
        "list": listed,
        "submit": submitted,
        "cancel": cancelled,
    }
    return {op: r.http_response for op, r in raw.items()}


def test_the_shipped_profiles() -> None:
    """The seven profiles ship under their names; reference is today's simulator."""
    assert set(PROFILES) == {
        "reference",
        "get-only-poll-after",
        "no-poll-after",
        "no-sse",
        "garbage-bodies",
        "odd-headers",
        "cancel-400-forks",
    }
    assert all(name == p.name and p.description for name, p in PROFILES.items())
    reference = PROFILES["reference"]
    assert (reference.poll_after_ms, reference.poll_after_on) == (20, ALL_OPS)
    assert (reference.finished_cancel, reference.second_answer) == ("return", "reject")
    alternative = PROFILES["cancel-400-forks"]
    assert (alternative.finished_cancel, alternative.second_answer) == ("reject", "fork")
    assert reference.sse
    assert reference.garbage_every is None
    assert not reference.odd_headers
    assert Simulator().profile is reference


def test_reference_sends_the_header_on_every_run_response(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """reference: openai-poll-after-ms: 20 on create, retrieve, update, list, submit, cancel."""
    with _client(make_sim()) as client:
        responses = _every_run_op(client, clock)
    assert {op: r.headers.get(POLL) for op, r in responses.items()} == dict.fromkeys(
        ALL_RUN_OPS, "20"
    )


def test_get_only_poll_after_sends_it_on_gets_only(make_sim: MakeSim, clock: ManualClock) -> None:
    """get-only-poll-after: 50 on GET run responses; never on create, update, submit, cancel."""
    with _client(make_sim(profile="get-only-poll-after")) as client:
        responses = _every_run_op(client, clock)
    assert {op: r.headers.get(POLL) for op, r in responses.items()} == {
        "create": None,
        "retrieve": "50",
        "update": None,
        "list": "50",
        "submit": None,
        "cancel": None,
    }


def test_no_poll_after_never_sends_it(make_sim: MakeSim, clock: ManualClock) -> None:
    """no-poll-after: no response carries the header, whatever the op."""
    with _client(make_sim(profile="no-poll-after")) as client:
        responses = _every_run_op(client, clock)
    assert {op: POLL in r.headers for op, r in responses.items()} == dict.fromkeys(
        ALL_RUN_OPS, False
    )


def test_an_explicit_poll_after_ms_overrides_the_profile_value(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """poll_after_ms= replaces the profile's value; the profile still picks the ops."""
    with _client(make_sim(profile="get-only-poll-after", poll_after_ms=7)) as client:
        responses = _every_run_op(client, clock)
    assert responses["retrieve"].headers[POLL] == "7"
    assert POLL not in responses["create"].headers
    with _client(make_sim(poll_after_ms=5)) as client:
        assert _every_run_op(client, clock)["create"].headers[POLL] == "5"


def test_a_single_raw_text_is_sent_every_time(make_sim: MakeSim, clock: ManualClock) -> None:
    """poll_after_raw as one string: that exact text on every run response."""
    profile = ServerProfile("soon", "a word, not a number", poll_after_raw="soon")
    with _client(make_sim(profile=profile)) as client:
        responses = _every_run_op(client, clock)
    assert {r.headers[POLL] for r in responses.values()} == {"soon"}


def test_no_sse_answers_stream_requests_with_the_json_run(
    make_sim: MakeSim, clock: ManualClock
) -> None:
    """no-sse: create, create-thread-and-run and submit with stream=true get the plain JSON run."""
    sim = make_sim(profile="no-sse")
    with _client(sim) as client:
        runs = client.beta.threads.runs
        assistant_id, thread_id = _assistant(client), _thread(client)
        raw = runs.with_raw_response.create(
            thread_id=thread_id, assistant_id=assistant_id, stream=True
        )
        created = raw.http_response
        created.read()
        assert (created.status_code, created.headers["content-type"]) == (200, "application/json")
        assert created.headers[POLL] == "20"
        run = strict_run(created.json())
        assert (run.status, run.thread_id) == ("queued", thread_id)

        clock.advance(1)
        waiting = runs.retrieve(run.id, thread_id=thread_id)
        assert waiting.required_action is not None
        call = waiting.required_action.submit_tool_outputs.tool_calls[0]
        raw = runs.with_raw_response.submit_tool_outputs(
            run.id,
            thread_id=thread_id,
            tool_outputs=[{"tool_call_id": call.id, "output": "1"}],
            stream=True,
        )
        submitted = raw.http_response
        submitted.read()
        assert submitted.headers["content-type"] == "application/json"
        # queued at the submit, and picked up at once (order-total has no Queue step after it)
        assert strict_run(submitted.json()).status == "in_progress"
        assert [s for s, _ in sim.run_history(run.id)][-2:] == ["queued", "in_progress"]

        raw = client.beta.threads.with_raw_response.create_and_run(
            assistant_id=assistant_id, stream=True
        )
        both = raw.http_response
        both.read()
        assert both.headers["content-type"] == "application/json"
        assert strict_run(both.json()).status == "queued"

        # what a streaming client makes of it: no events at all, and no error
        other = _thread(client)
        assert list(runs.create(thread_id=other, assistant_id=assistant_id, stream=True)) == []


def test_reference_answers_stream_requests_with_sse(make_sim: MakeSim) -> None:
    """The contrast: reference answers stream=true with text/event-stream."""
    with _client(make_sim(clock=ManualClock(autoadvance=0.01))) as client:
        assistant_id = _assistant(client, "text")
        raw = client.beta.threads.runs.with_raw_response.create(
            thread_id=_thread(client), assistant_id=assistant_id, stream=True
        )
        body = raw.http_response.read()
    assert raw.http_response.headers["content-type"].startswith("text/event-stream")
    assert body.startswith(b"event: thread.run.created\n")
    assert body.endswith(b"event: done\ndata: [DONE]\n\n")


def _garbage_kind(response: httpx2.Response, run_id: str) -> str:
    """Which garbage a GET answer is (or ``"run"`` for a valid run), checked field by field."""
    content_type = response.headers["content-type"]
    if content_type.startswith("text/html"):
        assert response.content.startswith(b"<!DOCTYPE html>")
        return "html"
    assert content_type == "application/json"
    try:
        data: Any = json.loads(response.content)
    except ValueError:
        assert response.content == b'{"id": "run_'
        return "malformed-json"
    if isinstance(data, list):
        assert data == [{"id": run_id, "object": "thread.run", "thread_id": data[0]["thread_id"]}]
        return "json-array"
    if "status" not in data:
        assert data["id"] == run_id
        return "run-without-status"
    assert strict_run(data).id == run_id
    return "run"


def test_garbage_bodies_answer_every_third_get(make_sim: MakeSim) -> None:
    """garbage-bodies: GETs 3, 6, 9, 12 are 200s that are not runs, the four kinds in turn,
    without openai-poll-after-ms; every other GET is a valid run."""
    with _client(make_sim(profile="garbage-bodies")) as client:
        thread_id = _thread(client)
        run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=_assistant(client))
        answers = [
            client.beta.threads.runs.with_raw_response.retrieve(
                run.id, thread_id=thread_id
            ).http_response
            for _ in range(12)
        ]
    assert all(r.status_code == 200 for r in answers)
    kinds = [_garbage_kind(r, run.id) for r in answers]
    assert kinds == [
        "run",
        "run",
        "malformed-json",
        "run",
        "run",
        "html",
        "run",
        "run",
        "json-array",
        "run",
        "run",
        "run-without-status",
    ]
    assert [POLL in r.headers for r in answers] == [kind == "run" for kind in kinds]


def test_a_garbage_answer_is_not_a_read_of_a_status_script(make_sim: MakeSim) -> None:
    """A per_read script moves on real reads only: the garbage GET serves no step."""
    sim = make_sim(profile="garbage-bodies")
    steps = [Step("queued"), Step("in_progress"), Step("requires_action", tool_calls=[])]
    sim.add_scenario("s", StatusScript([*steps, Step("completed")]))
    with _client(sim) as client:
        thread_id = _thread(client)
        run = client.beta.threads.runs.create(
            thread_id=thread_id, assistant_id=_assistant(client, "s")
        )
        raw = [
            client.beta.threads.runs.with_raw_response.retrieve(
                run.id, thread_id=thread_id
            ).http_response
            for _ in range(4)
        ]
    assert [_garbage_kind(r, run.id) for r in raw] == ["run", "run", "malformed-json", "run"]
    assert [r.json()["status"] for r in (raw[0], raw[1], raw[3])] == [
        "in_progress",
        "requires_action",
        "completed",
    ]
    assert [(r.via, r.status) for r in sim.script_reads(run.id)] == [
        ("create", "queued"),
        ("retrieve", "in_progress"),
        ("retrieve", "requires_action"),
        ("retrieve", "completed"),
    ]


def _assert_odd(response: httpx2.Response) -> None:
    """The server's own header names are upper-case, the added ones Title-Case: none lower."""
    names = [name for name, _ in response.headers.raw]
    assert b"CONTENT-TYPE" in names
    assert all(name != name.lower() for name in names)
    assert response.headers.get_list("vary") == ["Accept-Encoding", "Accept-Encoding"]
    assert response.headers.get_list("x-content-type-options") == ["nosniff", "nosniff"]
    assert response.headers["x-envoy-upstream-service-time"] == "12"
    assert response.headers["x-sim-oddity"] == "unknown-header"


def test_odd_headers_on_every_response(make_sim: MakeSim, clock: ManualClock) -> None:
    """odd-headers: upper-case names, a charset, duplicated and unknown headers everywhere, and
    the poll-after texts nan, inf, -5, 1e12, abc, then ' 20 ' (sent as 20) repeating."""
    with _client(make_sim(profile="odd-headers")) as client:
        responses = _every_run_op(client, clock)
        thread = client.beta.threads.with_raw_response.create().http_response
        with pytest.raises(openai.NotFoundError) as missing:
            client.beta.threads.runs.retrieve("run_missing", thread_id=thread.json()["id"])
        order = ["create", "retrieve", "update", "list", "submit", "cancel"]
        extra = client.beta.threads.runs.with_raw_response.list(
            thread_id=thread.json()["id"]
        ).http_response
    for response in [*responses.values(), thread, missing.value.response, extra]:
        _assert_odd(response)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
    texts = [responses[op].headers[POLL] for op in order] + [extra.headers[POLL]]
    assert texts == ["nan", "inf", "-5", "1e12", "abc", "20", "20"]
    assert POLL.upper().encode() in dict(responses["retrieve"].headers.raw)


def test_odd_headers_on_a_stream(make_sim: MakeSim) -> None:
    """An SSE answer gets the oddities too (its content-type stays text/event-stream)."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01), profile="odd-headers")
    with _client(sim) as client:
        raw = client.beta.threads.runs.with_raw_response.create(
            thread_id=_thread(client), assistant_id=_assistant(client, "text"), stream=True
        )
        raw.http_response.read()
    _assert_odd(raw.http_response)
    assert raw.http_response.headers["content-type"].startswith("text/event-stream")


def test_the_profile_can_be_swapped_between_requests(make_sim: MakeSim, clock: ManualClock) -> None:
    """Simulator.profile is read on every request."""
    sim = make_sim()
    with _client(sim) as client:
        sim.profile = PROFILES["no-poll-after"]
        assert POLL not in _every_run_op(client, clock)["retrieve"].headers
        sim.profile = PROFILES["reference"]
        assert _every_run_op(client, clock)["retrieve"].headers[POLL] == "20"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"poll_after_on": frozenset({"delete"})}, "unknown ops"),
        ({"garbage_every": 0}, "garbage_every"),
        ({"poll_after_raw": ()}, "at least one"),
        ({"poll_after_raw": "1\r\nx-evil: 1"}, "cannot be sent"),
        ({"finished_cancel": "ignore"}, "finished_cancel"),
        ({"second_answer": "merge"}, "second_answer"),
    ],
)
def test_profile_validation(kwargs: dict[str, Any], message: str) -> None:
    """A profile that no server could send is refused when it is made."""
    with pytest.raises(ValueError, match=message):
        ServerProfile("bad", "bad", **kwargs)


def test_unknown_profile_names_are_refused() -> None:
    """Simulator and serve() refuse unknown names; serve() refuses a profile for a ready sim."""
    with pytest.raises(ValueError, match="unknown profile 'nope'"):
        Simulator(profile="nope")
    with pytest.raises(ValueError, match="unknown profile"):
        serve(profile="nope")
    with pytest.raises(ValueError, match="prepared Simulator"):
        serve(sim=Simulator(), profile="no-sse")


def test_profiles_are_hashable_values() -> None:
    """Profiles are frozen values: sequences are stored as tuples, equal profiles compare equal."""
    a = ServerProfile("x", "y", poll_after_ms=[1, 2], poll_after_raw=["a", "b"])
    b = ServerProfile("x", "y", poll_after_ms=(1, 2), poll_after_raw=("a", "b"))
    assert a == b
    assert hash(a) == hash(b)
    assert a.raw_texts() == ("a", "b")
    assert PROFILES["odd-headers"].raw_texts()[-1] == " 20 "
