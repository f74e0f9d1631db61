"""``stream=true`` for ``/v1/responses``: the SDK's typed events, sequence numbers, resume, faults.

Streams are read in-process on a manual clock that advances itself while a stream waits
(``autoadvance``), so each test is deterministic and quick.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import openai
import pydantic
import pytest
from openai.types.responses import ResponseItemList, ResponseStreamEvent

from adapters.simulator import Fault, ManualClock, Simulator

from .conftest import IN_PROCESS_URL
from .responses_helpers import answers

MakeSim = Callable[..., Simulator]

#: the events of an order-total first response, streamed (arguments in 16-character deltas)
FIRST_RESPONSE_HEAD = ["response.created", "response.queued", "response.in_progress"]
TEXT_EVENTS = [
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]


@pytest.fixture
def auto_sim(make_sim: MakeSim) -> Simulator:
    """A simulator whose manual clock moves 10 ms whenever a stream finds nothing new."""
    return make_sim(clock=ManualClock(autoadvance=0.01))


@pytest.fixture
def auto_client(auto_sim: Simulator) -> Iterator[openai.OpenAI]:
    """The SDK in-process against :func:`auto_sim`."""
    with openai.OpenAI(
        base_url=IN_PROCESS_URL,
        api_key="sk",
        http_client=auto_sim.http_client(),
        max_retries=0,
    ) as client:
        yield client


def _text_stream(client: openai.OpenAI, **kwargs: Any) -> list[Any]:
    stream = client.responses.create(
        model="m", input="hi", stream=True, metadata={"scenario": "text"}, **kwargs
    )
    return list(stream)


def test_a_background_stream_sends_every_event_in_sequence(auto_client: openai.OpenAI) -> None:
    """created, queued, in_progress, the message's events, completed; numbered from 0."""
    events = _text_stream(auto_client, background=True)
    assert [e.type for e in events] == FIRST_RESPONSE_HEAD + TEXT_EVENTS
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert [e.response.status for e in events[:3]] == ["queued", "queued", "in_progress"]
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas == "Hello! How can I help you today?"
    assert events[-1].response.output_text == deltas


def test_a_foreground_stream_starts_in_progress(auto_client: openai.OpenAI) -> None:
    """Without background there is no queued status and no response.queued event."""
    events = _text_stream(auto_client)
    assert [e.type for e in events[:2]] == ["response.created", "response.in_progress"]
    assert events[0].response.status == "in_progress"
    assert events[0].response.background is False


def test_function_calls_stream_their_arguments(
    auto_client: openai.OpenAI, auto_sim: Simulator
) -> None:
    """order-total: output_item.added (in progress, no arguments), argument deltas, done."""
    events = list(auto_client.responses.create(model="m", input="x", background=True, stream=True))
    kinds = [e.type for e in events]
    assert kinds[:4] == [*FIRST_RESPONSE_HEAD, "response.output_item.added"]
    assert kinds[-3:] == [
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = events[3], events[-2]
    assert (added.item.status, added.item.arguments) == ("in_progress", "")
    deltas = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert deltas == done.item.arguments == events[-3].arguments
    assert {e.item_id for e in events[3:-1] if hasattr(e, "item_id")} == {done.item.id}
    assert auto_sim.response_events(events[0].response.id) == kinds


def test_a_stream_can_be_resumed_after_a_sequence_number(auto_client: openai.OpenAI) -> None:
    """GET ?stream=true&starting_after=N replays from N+1 to the end; past the end: nothing."""
    events = _text_stream(auto_client, background=True)
    response_id = events[0].response.id
    resumed = list(auto_client.responses.retrieve(response_id, stream=True, starting_after=4))
    assert [e.sequence_number for e in resumed] == list(range(5, len(events)))
    assert [e.type for e in resumed] == [e.type for e in events[5:]]
    whole = list(auto_client.responses.retrieve(response_id, stream=True))
    assert [e.sequence_number for e in whole] == list(range(len(events)))
    assert list(auto_client.responses.retrieve(response_id, stream=True, starting_after=99)) == []


def test_the_sdk_stream_helper_accumulates_the_response(auto_client: openai.OpenAI) -> None:
    """client.responses.stream(...) builds the final response from the events."""
    with auto_client.responses.stream(
        model="m", input="hi", background=True, metadata={"scenario": "text"}
    ) as stream:
        final = stream.get_final_response()
    assert (final.status, final.output_text) == ("completed", "Hello! How can I help you today?")


def test_a_cancelled_stream_just_ends(make_sim: MakeSim) -> None:
    """There is no response.cancelled event: a stream of a cancelled response ends after the
    events it had, without error."""
    clock = ManualClock()
    sim = make_sim(clock=clock)
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        stream = client.responses.create(
            model="m",
            input="x",
            background=True,
            stream=True,
            metadata={"scenario": "never-finishes"},
        )
        seen: list[str] = []
        reader = threading.Thread(target=lambda: seen.extend(e.type for e in stream))
        reader.start()
        clock.advance(1)
        while sim.response_ids() == [] or len(seen) < 3:
            threading.Event().wait(0.005)
        cancelled = client.responses.cancel(sim.response_ids()[0])
        reader.join(timeout=5)
    assert not reader.is_alive()
    assert cancelled.status == "cancelled"
    assert seen == FIRST_RESPONSE_HEAD


def test_a_cut_stream_is_resumed_where_it_broke(
    auto_client: openai.OpenAI, auto_sim: Simulator
) -> None:
    """cut_stream_after: the SDK sees a broken connection; resuming after the last sequence
    number it saw delivers the rest exactly once."""
    auto_sim.faults.add(Fault(method="POST", path="/v1/responses", cut_stream_after=4))
    seen: list[Any] = []
    with pytest.raises(openai.APIConnectionError):
        seen.extend(
            auto_client.responses.create(
                model="m", input="hi", background=True, stream=True, metadata={"scenario": "text"}
            )
        )
    assert [e.sequence_number for e in seen] == [0, 1, 2, 3]
    rest = list(
        auto_client.responses.retrieve(
            seen[0].response.id, stream=True, starting_after=seen[-1].sequence_number
        )
    )
    assert [e.type for e in seen + rest] == FIRST_RESPONSE_HEAD + TEXT_EVENTS


def test_a_silent_stream_times_out(auto_sim: Simulator) -> None:
    """silent_stream_after: the stream stops sending without ending; the read times out."""
    auto_sim.faults.add(Fault(method="GET", path="/v1/responses/*", silent_stream_after=2))
    with openai.OpenAI(
        base_url=IN_PROCESS_URL,
        api_key="sk",
        http_client=auto_sim.http_client(),
        max_retries=0,
        timeout=0.3,
    ) as client:
        created = client.responses.create(model="m", input="x", background=True)
        seen: list[int] = []
        with pytest.raises(openai.APITimeoutError):
            seen.extend(
                e.sequence_number for e in client.responses.retrieve(created.id, stream=True)
            )
    assert seen == [0, 1]


def test_no_sse_answers_stream_requests_with_json(make_sim: MakeSim) -> None:
    """no-sse: a streamed create and a streamed GET answer the plain JSON response."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01), profile="no-sse")
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        raw = client.responses.with_raw_response.create(
            model="m", input="x", background=True, stream=True
        )
        created = raw.http_response
        created.read()
        assert created.headers["content-type"] == "application/json"
        assert created.json()["status"] == "queued"
        got = client.responses.with_raw_response.retrieve(created.json()["id"], stream=True)
        got.http_response.read()
        assert got.http_response.headers["content-type"] == "application/json"
        assert list(client.responses.create(model="m", input="x", stream=True)) == []


def test_a_streamed_next_response_continues_the_chain(auto_client: openai.OpenAI) -> None:
    """The chain's next response can be streamed too; its text uses the submitted output."""
    first = list(auto_client.responses.create(model="m", input="x", background=True, stream=True))
    final = first[-1].response
    events = list(
        auto_client.responses.create(
            model="m",
            previous_response_id=final.id,
            input=answers(final, "$11"),
            background=True,
            stream=True,
        )
    )
    assert events[-1].type == "response.completed"
    assert events[-1].response.output_text == "The total price of your order is $11."


@pytest.mark.parametrize("scenario", ["text", "order-total", "fails", "incomplete"])
def test_every_event_on_the_wire_validates_strictly(
    auto_client: openai.OpenAI, scenario: str
) -> None:
    """Each SSE frame is 'event: <type>' with JSON the SDK's event union validates strictly,
    with no unknown field; its type repeats the event name."""
    created = auto_client.responses.create(
        model="m", input="x", background=True, metadata={"scenario": scenario}
    )
    raw = auto_client.responses.with_raw_response.retrieve(created.id, stream=True)
    frames = raw.http_response.read().decode().split("\n\n")
    assert frames[-1] == ""
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    for i, frame in enumerate(frames[:-1]):
        event_line, data_line = frame.split("\n")
        data = json.loads(data_line.removeprefix("data: "))
        assert event_line == f"event: {data['type']}"
        event = adapter.validate_python(data, strict=True)
        assert event.sequence_number == i
        assert not event.model_extra


def test_input_items_validate_strictly(auto_client: openai.OpenAI) -> None:
    """The input_items list validates strictly as the SDK's ResponseItemList."""
    first = auto_client.responses.create(
        model="m", input=[{"role": "user", "content": "hi"}], background=True
    )
    raw = auto_client.responses.input_items.with_raw_response.list(first.id)
    items = ResponseItemList.model_validate(raw.http_response.json(), strict=True)
    assert [(i.type, i.id == items.first_id) for i in items.data] == [("message", True)]
    assert not items.has_more
