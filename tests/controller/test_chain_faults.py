"""The fault rows that apply to Responses chains, end to end over loopback with the real SDK (both
controllers): a 429 on create, a 5xx on create (ambiguous: never resent), 5xx and dropped reads,
a cut stream resumed after its last sequence number, tools that raise or hang."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator

import anyio
import openai
import pytest

from adapters.openai import (
    AsyncResponseController,
    ControllerConfig,
    ResponseController,
    ResponseOutcome,
)
from adapters.simulator import Fault, SimulatorServer
from lifecycle import CallState, ToolRegistry
from tests.controller.conftest import API_KEY, Env, make_toolbox, open_env
from tests.controller.test_chains import RESPONSES, Chains, chains

ONE = f"{RESPONSES}/*"


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(sim_profile: str) -> Iterator[Env]:
    with open_env(sim_profile) as e:
        yield e


def posts(env: Env) -> int:
    return env.sim.request_count("POST", RESPONSES)


def test_a_429_on_the_first_create_is_retried_after_its_retry_after(kind: str, env: Env) -> None:
    """A 429 was not applied (the server refused it): the create goes again after the server's
    retry-after, and the chain starts once."""
    env.sim.faults.add(
        Fault(method="POST", path=RESPONSES, status=429, headers={"retry-after": "3"})
    )
    box = make_toolbox()
    c = chains(kind, env, box)
    out = c.run("order-total")
    assert out.status == "completed"
    assert posts(env) == 3  # the refused create, the create, the next response
    assert len(env.sim.response_ids()) == 2
    assert 3.0 in c.sleeps  # the server's retry-after, not a backoff of our own
    assert box.count("calculate_order_total") == 1


def test_a_5xx_on_the_first_create_is_ambiguous_and_never_resent(kind: str, env: Env) -> None:
    """A 503 may come from a server that started the response (no idempotency key, no list
    endpoint to look): the controller raises instead of risking a second chain."""
    env.sim.faults.add(Fault(method="POST", path=RESPONSES, status=503))
    with pytest.raises(openai.APIStatusError) as err:
        chains(kind, env, make_toolbox()).run("order-total")
    assert err.value.status_code == 503
    assert posts(env) == 1


def test_failed_and_dropped_reads_are_retried_and_the_chain_completes(kind: str, env: Env) -> None:
    """Reads are safe to repeat: a 503, a 502 and a connection dropped mid-body on the
    response's GET are retried; nothing is created or run twice."""
    env.sim.faults.add(Fault(method="GET", path=ONE, status=503, times=1))
    env.sim.faults.add(Fault(method="GET", path=ONE, status=502, times=1, nth=2))
    env.sim.faults.add(Fault(method="GET", path=ONE, drop="mid_body", times=1, nth=3))
    box = make_toolbox()
    out = chains(kind, env, box).run("order-total")
    assert out.status == "completed"
    assert len(env.sim.response_ids()) == 2
    assert box.count("calculate_order_total") == 1
    assert out.anomalies == ()


def test_a_cut_stream_resumes_after_its_last_sequence_number(kind: str) -> None:
    """The stream of the first response is cut after three events: the controller resumes it
    with starting_after instead of starting over, and the chain completes once. (On a server
    that streams, whatever the session's profile: no-sse's fallback is tested elsewhere.)"""
    with open_env("reference") as env:
        env.sim.faults.add(Fault(method="POST", path=RESPONSES, cut_stream_after=3))
        box = make_toolbox()
        out = chains(kind, env, box, stream=True).run("order-total")
        reads = [r for r in env.sim.requests if r.method == "GET" and r.path.startswith(RESPONSES)]
        responses = env.sim.response_ids()
    assert out.status == "completed"
    assert len(responses) == 2
    assert box.count("calculate_order_total") == 1
    assert len(reads) == 1  # the resumed stream, and no poll
    assert out.stream_fallbacks == 0
    assert {e.via for e in out.history} == {"stream", "client"}


def test_a_tool_that_raises_is_answered_with_its_error_and_the_chain_goes_on(
    kind: str, env: Env
) -> None:
    tools = ToolRegistry()
    runs: list[int] = []

    @tools.tool
    def calculate_order_total(items: list[dict[str, object]]) -> float:
        """Price an order (the pricing service is down)."""
        runs.append(1)
        raise RuntimeError("pricing service unavailable")

    out = Chains(kind, env, tools).run("order-total")
    assert out.status == "completed"
    assert runs == [1]
    (call,) = out.tool_calls
    assert (call.state, call.error) == (CallState.DELIVERED.value, "tool_error")
    sent = env.sim.response_chain(out.response_ids[-1])[-1].outputs
    assert len(sent) == 1
    body = json.loads(sent[0].output)
    assert body["error"]["type"] == "tool_error"
    assert "pricing service unavailable" in json.dumps(body)


def test_a_tool_that_hangs_is_answered_with_a_timeout_once(kind: str, env: Env) -> None:
    """A tool past its round's budget is answered ``tool_timeout`` and never run again; the
    model's next response completes the chain."""
    tools = ToolRegistry()
    release = threading.Event()
    runs: list[int] = []

    @tools.tool
    def calculate_order_total(items: list[dict[str, object]]) -> float:
        """Price an order (hangs)."""
        runs.append(1)
        release.wait(5.0)
        return 0.0

    config = ControllerConfig(tool_timeout_s=0.3)
    try:
        out = Chains(kind, env, tools, config=config).run("order-total")
    finally:
        release.set()
    assert out.status == "completed"
    assert runs == [1]
    sent = env.sim.response_chain(out.response_ids[-1])[-1].outputs
    assert [json.loads(o.output)["error"]["type"] for o in sent] == ["tool_timeout"]


def test_a_silent_stream_does_not_outlast_the_deadline(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Real time: a stream that never sends another event is read only until the drive's
    deadline (not for its 60 s idle timeout, nor resumed three times): the deadline cancels the
    response and the chain ends ``deadline``. Before, the read waited the whole idle timeout
    and was resumed, so a 1 s deadline ended after minutes."""
    caplog.set_level(logging.INFO)
    config = ControllerConfig(overall_timeout_s=1.0, stream_idle_timeout_s=60.0)
    args = {"model": "sim-model", "input": "x", "metadata": {"scenario": "never-finishes"}}
    with SimulatorServer() as server:
        started = time.monotonic()
        if kind == "sync":
            with openai.OpenAI(base_url=server.base_url, api_key=API_KEY) as client:
                out = ResponseController(client, config=config, stream=True).run(**args)
        else:

            async def main() -> ResponseOutcome:
                async with openai.AsyncOpenAI(base_url=server.base_url, api_key=API_KEY) as c:
                    ctl = AsyncResponseController(c, config=config, stream=True)
                    return await ctl.run(**args)

            out = anyio.run(main)
        elapsed = time.monotonic() - started
        cancels = server.sim.request_count("POST", RESPONSES + "/*/cancel")
    assert (out.ending.kind.value, out.ending.deadline) == ("deadline", "overall")
    assert out.status == "cancelled"
    assert cancels == 1
    assert any("stream closed at a deadline" in r.getMessage() for r in caplog.records)
    assert elapsed < 30.0  # the 60 s idle read was cut at the 1 s deadline
