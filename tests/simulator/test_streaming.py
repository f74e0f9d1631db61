"""SSE streams through the SDK: event order, the stream helpers, sync and async, clock behaviour."""

from __future__ import annotations

import threading
from typing import Any

import openai
import pytest
from openai.lib.streaming import AssistantEventHandler
from openai.types.beta import AssistantStreamEvent

from adapters.simulator import ManualClock, Simulator, SimulatorServer

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

TEXT_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
    "thread.message.delta",
    "thread.message.delta",
    "thread.message.completed",
    "thread.run.step.completed",
    "thread.run.completed",
]
TOOL_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.run.step.delta",
    "thread.run.requires_action",
]
AFTER_SUBMIT = ["thread.run.step.completed", "thread.run.queued", "thread.run.in_progress"]


def _client(sim: Simulator) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://simulator.local/v1",
        api_key="k",
        http_client=sim.http_client(),
        max_retries=0,
    )


def _setup(client: openai.OpenAI, scenario: str) -> tuple[str, str]:
    asst = client.beta.assistants.create(model="m", metadata={"scenario": scenario})
    return asst.id, client.beta.threads.create().id


def test_text_stream_order_in_process(make_sim: Any) -> None:
    """A text run streams the API's canonical event order and ends with [DONE]."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    with _client(sim) as client:
        asst, thread = _setup(client, "text")
        stream = client.beta.threads.runs.create(thread_id=thread, assistant_id=asst, stream=True)
        events = list(stream)
    assert [e.event for e in events] == TEXT_EVENTS
    final = events[-1]
    assert final.event == "thread.run.completed"
    assert final.data.status == "completed"
    assert final.data.expires_at is None
    run_id = final.data.id
    assert [e.event for e in events if e.event.startswith("thread.run.")][:2] == TEXT_EVENTS[:2]
    assert sim.run_events(run_id) == TEXT_EVENTS


def test_tool_stream_stops_at_requires_action_and_submit_opens_a_new_one(make_sim: Any) -> None:
    """The first stream ends at requires_action; submit with stream=true continues to the end."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    with _client(sim) as client:
        asst, thread = _setup(client, "order-total")
        first = list(
            client.beta.threads.runs.create(thread_id=thread, assistant_id=asst, stream=True)
        )
        assert [e.event for e in first] == TOOL_EVENTS
        run: Any = first[-1].data
        calls = run.required_action.submit_tool_outputs.tool_calls
        second: list[Any] = list(
            client.beta.threads.runs.submit_tool_outputs(
                run.id,
                thread_id=thread,
                tool_outputs=[{"tool_call_id": c.id, "output": "280"} for c in calls],
                stream=True,
            )
        )
    names = [e.event for e in second]
    assert names[:3] == AFTER_SUBMIT
    assert names[-1] == "thread.run.completed"
    step: Any = second[0].data
    assert step.status == "completed"  # the tool_calls step, with its output
    deltas: list[Any] = [e.data for e in second if e.event == "thread.message.delta"]
    text = "".join(d.delta.content[0].text.value for d in deltas)
    assert text == "The total price of your order is 280."


class _Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def on_event(self, event: AssistantStreamEvent) -> None:
        self.names.append(event.event)


def test_sdk_stream_helpers_over_http() -> None:
    """runs.stream and submit_tool_outputs_stream (with handlers) consume the simulator's SSE."""
    with (
        SimulatorServer(Simulator()) as server,
        openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0) as client,
    ):
        asst, thread = _setup(client, "two-rounds")
        handler = _Recorder()
        with client.beta.threads.runs.stream(
            thread_id=thread, assistant_id=asst, event_handler=handler
        ) as stream:
            stream.until_done()
            run = stream.get_final_run()
        rounds = 0
        while run.status == "requires_action":
            rounds += 1
            calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
            with client.beta.threads.runs.submit_tool_outputs_stream(
                run_id=run.id,
                thread_id=thread,
                tool_outputs=[{"tool_call_id": c.id, "output": f"r{rounds}"} for c in calls],
                event_handler=_Recorder(),
            ) as stream2:
                stream2.until_done()
                run = stream2.get_final_run()
        assert rounds == 2
        assert run.status == "completed"
        messages = list(client.beta.threads.messages.list(thread_id=thread))
        assert messages[0].content[0].text.value == "After two rounds: r1, r2."  # type: ignore[union-attr]
        assert handler.names == TOOL_EVENTS


def test_create_and_run_stream_starts_with_thread_created(make_sim: Any) -> None:
    """POST /threads/runs with stream=true opens with thread.created."""
    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    with _client(sim) as client:
        asst, _ = _setup(client, "text")
        events = list(client.beta.threads.create_and_run(assistant_id=asst, stream=True))
    assert events[0].event == "thread.created"
    assert [e.event for e in events[1:]] == TEXT_EVENTS


async def _async_round(sim: Simulator) -> list[str]:
    async with openai.AsyncOpenAI(
        base_url="http://simulator.local/v1",
        api_key="k",
        http_client=sim.async_http_client(),
        max_retries=0,
    ) as client:
        asst = await client.beta.assistants.create(model="m", metadata={"scenario": "order-total"})
        thread = await client.beta.threads.create()
        names: list[str] = []
        run = None
        stream = await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=asst.id, stream=True
        )
        async for event in stream:
            names.append(event.event)
            run = event.data
        calls = run.required_action.submit_tool_outputs.tool_calls  # type: ignore[union-attr]
        stream2: Any = await client.beta.threads.runs.submit_tool_outputs(
            run.id,  # type: ignore[union-attr]
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": c.id, "output": "1"} for c in calls],
            stream=True,
        )
        async for event in stream2:
            names.append(event.event)
        return names


def test_async_client_streams_in_process(make_sim: Any) -> None:
    """The async SDK streams create and submit through the async in-process transport."""
    import anyio

    sim = make_sim(clock=ManualClock(autoadvance=0.01))
    names = anyio.run(_async_round, sim)
    assert names[: len(TOOL_EVENTS)] == TOOL_EVENTS
    assert names[len(TOOL_EVENTS) :][:3] == AFTER_SUBMIT
    assert names[-1] == "thread.run.completed"


def test_manual_clock_stream_waits_for_the_clock(sim: Simulator, clock: ManualClock) -> None:
    """With a ManualClock (no autoadvance) a stream sends what is due, then waits for advance()."""
    with _client(sim) as client:
        asst, thread = _setup(client, "text")
        stream = client.beta.threads.runs.create(thread_id=thread, assistant_id=asst, stream=True)
        got: list[str] = []
        queued, finished = threading.Event(), threading.Event()

        def read() -> None:
            for event in stream:
                got.append(event.event)
                if event.event == "thread.run.queued":
                    queued.set()
            finished.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert queued.wait(5)
        assert not finished.is_set()
        assert got == TEXT_EVENTS[:2]
        clock.advance(1)
        assert finished.wait(5)
        reader.join(5)
    assert got == TEXT_EVENTS
