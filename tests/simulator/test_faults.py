"""Scripted faults, seen by the real SDK over loopback HTTP and in-process."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import httpx2
import openai
import pytest
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

from adapters.simulator import Fault, ManualClock, Simulator, SimulatorServer

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

RUN_GLOB = "/v1/threads/*/runs/*"


def _run(client: openai.OpenAI, scenario: str = "text") -> tuple[str, str]:
    asst = client.beta.assistants.create(model="m", metadata={"scenario": scenario})
    thread = client.beta.threads.create()
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)
    return thread.id, run.id


def _consume(stream: Iterable[AssistantStreamEvent], got: list[str]) -> None:
    for event in stream:
        got.append(event.event)


def _statuses(sim: Simulator, path_glob: str) -> list[int | None]:
    import fnmatch

    return [r.status for r in sim.requests if fnmatch.fnmatchcase(r.path, path_glob)]


def test_429_with_retry_after_ms_once(served: SimulatorServer, live: openai.OpenAI) -> None:
    """A 429 carries retry-after(-ms) headers and an OpenAI error body; then requests succeed."""
    thread_id, run_id = _run(live)
    fault = served.sim.faults.add(
        Fault(
            method="GET",
            path=RUN_GLOB,
            status=429,
            headers={"retry-after-ms": "120", "retry-after": "1"},
        )
    )
    with pytest.raises(openai.RateLimitError) as err:
        live.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert err.value.response.headers["retry-after-ms"] == "120"
    assert err.value.response.headers["retry-after"] == "1"
    assert err.value.code == "rate_limit_exceeded"
    assert live.beta.threads.runs.retrieve(run_id, thread_id=thread_id).id == run_id
    assert served.sim.faults.fired(fault) == 1
    assert _statuses(served.sim, f"/v1/threads/{thread_id}/runs/{run_id}") == [429, 200]


def test_sdk_retry_honours_the_fault(served: SimulatorServer) -> None:
    """With SDK retries on, one 429 (retry-after-ms: 10) is retried and the call succeeds."""
    with openai.OpenAI(base_url=served.base_url, api_key="k", max_retries=1) as client:
        thread_id, run_id = _run(client)
        served.sim.faults.add(
            Fault(method="GET", path=RUN_GLOB, status=429, headers={"retry-after-ms": "10"})
        )
        assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).id == run_id
    assert _statuses(served.sim, f"/v1/threads/{thread_id}/runs/{run_id}") == [429, 200]
    served.sim.faults.clear()


def test_500_once_then_ok_and_nth(served: SimulatorServer, live: openai.OpenAI) -> None:
    """A 500 fires once; a fault with nth=2 skips the first match; later requests are fine."""
    thread_id, run_id = _run(live)
    served.sim.faults.add(Fault(method="POST", path="/v1/threads/*/messages", status=500))
    served.sim.faults.add(Fault(method="GET", path=RUN_GLOB, status=503, nth=2))
    live.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    with pytest.raises(openai.InternalServerError) as err:
        live.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert err.value.status_code == 503
    live.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert _statuses(served.sim, f"/v1/threads/{thread_id}/runs/{run_id}") == [200, 503, 200]


@pytest.fixture(params=["served", "in-process"])
def any_client(
    request: pytest.FixtureRequest, served: SimulatorServer
) -> Iterator[tuple[Simulator, openai.OpenAI]]:
    """The SDK over loopback HTTP, or in-process; faults cleared after."""
    if request.param == "served":
        sim = served.sim
        client = openai.OpenAI(base_url=served.base_url, api_key="k", max_retries=0, timeout=2.0)
    else:
        sim = Simulator()
        client = openai.OpenAI(
            base_url="http://simulator.local/v1",
            api_key="k",
            http_client=sim.http_client(),
            max_retries=0,
            timeout=2.0,
        )
    with client:
        yield sim, client
    sim.faults.clear()
    if request.param == "in-process":
        sim.close()


def test_dropped_connection_before_response(any_client: tuple[Simulator, openai.OpenAI]) -> None:
    """A connection closed without a response is a connection error; the next request works."""
    sim, client = any_client
    thread_id, run_id = _run(client)
    sim.faults.add(Fault(method="GET", path=RUN_GLOB, drop="before_response"))
    with pytest.raises(openai.APIConnectionError):
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).id == run_id
    assert _statuses(sim, f"/v1/threads/{thread_id}/runs/{run_id}") == [None, 200]


def test_dropped_connection_mid_body(any_client: tuple[Simulator, openai.OpenAI]) -> None:
    """Half a body and a closed connection surface as a transport error, never as a response."""
    sim, client = any_client
    thread_id, run_id = _run(client)
    sim.faults.add(Fault(method="GET", path=RUN_GLOB, drop="mid_body"))
    with pytest.raises((openai.APIConnectionError, httpx2.TransportError)):
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).id == run_id


def test_stream_cut_after_n_events(any_client: tuple[Simulator, openai.OpenAI]) -> None:
    """A stream cut after 3 events delivers exactly 3, then a transport error."""
    sim, client = any_client
    asst = client.beta.assistants.create(model="m", metadata={"scenario": "text"})
    thread = client.beta.threads.create()
    sim.faults.add(Fault(method="POST", path="/v1/threads/*/runs", cut_stream_after=3))
    got: list[str] = []
    stream = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id, stream=True)
    with pytest.raises(openai.APIConnectionError):
        _consume(stream, got)
    assert got == ["thread.run.created", "thread.run.queued", "thread.run.in_progress"]


def test_stream_goes_silent(any_client: tuple[Simulator, openai.OpenAI]) -> None:
    """A silent stream delivers N events and then nothing: the client's read timeout fires."""
    sim, client = any_client
    asst = client.beta.assistants.create(model="m", metadata={"scenario": "text"})
    thread = client.beta.threads.create()
    sim.faults.add(Fault(method="POST", path="/v1/threads/*/runs", silent_stream_after=2))
    got: list[str] = []
    stream = client.with_options(timeout=0.3).beta.threads.runs.create(
        thread_id=thread.id, assistant_id=asst.id, stream=True
    )
    with pytest.raises(openai.APITimeoutError):
        _consume(stream, got)
    assert got == ["thread.run.created", "thread.run.queued"]


def test_submit_applied_then_500(make_sim: Any, clock: ManualClock) -> None:
    """applied_then_fail: the submit is applied but answered 500; a resubmit gets the 400."""
    sim = make_sim()
    with openai.OpenAI(
        base_url="http://simulator.local/v1",
        api_key="k",
        http_client=sim.http_client(),
        max_retries=0,
    ) as client:
        thread_id, run_id = _run(client, "order-total")
        clock.advance(1)
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        assert run.required_action is not None
        calls = run.required_action.submit_tool_outputs.tool_calls
        outputs: list[ToolOutput] = [{"tool_call_id": c.id, "output": "1"} for c in calls]
        sim.faults.add(
            Fault(method="POST", path="**/submit_tool_outputs", applied_then_fail="status")
        )
        with pytest.raises(openai.InternalServerError):
            client.beta.threads.runs.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=outputs
            )
        assert len(sim.tool_outputs(run_id)) == 1
        with pytest.raises(openai.BadRequestError) as err:
            client.beta.threads.runs.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=outputs
            )
        assert "do not accept tool outputs" in str(err.value.body)


def test_create_applied_then_timeout(any_client: tuple[Simulator, openai.OpenAI]) -> None:
    """applied_then_fail='hang': the run is created but the client times out waiting."""
    sim, client = any_client
    asst = client.beta.assistants.create(model="m", metadata={"scenario": "never-finishes"})
    thread = client.beta.threads.create()
    sim.faults.add(Fault(method="POST", path="/v1/threads/*/runs", applied_then_fail="hang"))
    with pytest.raises(openai.APITimeoutError):
        client.with_options(timeout=0.3).beta.threads.runs.create(
            thread_id=thread.id, assistant_id=asst.id
        )
    (run,) = client.beta.threads.runs.list(thread_id=thread.id)
    assert run.status != "completed"
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.create(thread_id=thread.id, assistant_id=asst.id)


def test_latency_and_records(served: SimulatorServer, live: openai.OpenAI) -> None:
    """A latency fault delays but still answers; the request log names the fault."""
    thread_id, run_id = _run(live)
    fault = served.sim.faults.add(Fault(method="GET", path=RUN_GLOB, latency=0.02))
    assert live.beta.threads.runs.retrieve(run_id, thread_id=thread_id).id == run_id
    record = served.sim.requests[-1]
    assert record.fault is fault
    assert record.status == 200
    assert record.method == "GET"
    assert served.sim.request_count("GET", "/v1/threads/*/runs/*") >= 1
