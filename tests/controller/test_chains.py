"""End to end: ResponseController drives Responses background chains over loopback HTTP, with the
real SDK, against the simulator's ``/v1/responses`` (both controllers, polling and streaming)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import anyio
import openai
import pytest

from adapters.openai import (
    AsyncResponseController,
    CancelToken,
    ChainFinished,
    ControllerConfig,
    ResponseChanged,
    ResponseController,
    ResponseOutcome,
)
from adapters.simulator import Fault
from lifecycle import RunFailed, ToolRegistry
from tests.controller.conftest import API_KEY, Env, ToolBox, make_toolbox, open_env

RESPONSES = "/v1/responses"
QUESTION = "What does my order cost?"


class Chains:
    """One interface over the sync and async chain controllers (each test runs both)."""

    def __init__(self, kind: str, env: Env, tools: ToolRegistry | None, **settings: Any) -> None:
        self.kind, self.env, self.tools, self.settings = kind, env, tools, settings
        self.sleeps: list[float] = []

    def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.env.clock.advance(seconds)

    def call(self, method: str, **kw: Any) -> Any:
        env = self.env
        if self.kind == "sync":
            ctl = ResponseController(
                env.client,
                tools=self.tools,
                clock=env.clock,
                wall_clock=env.clock,
                sleep=self._sleep,
                **self.settings,
            )
            return getattr(ctl, method)(**kw)

        async def main() -> Any:
            async def sleep(seconds: float) -> None:
                self._sleep(seconds)
                await anyio.sleep(0)

            async with openai.AsyncOpenAI(base_url=env.server.base_url, api_key=API_KEY) as c:
                ctl = AsyncResponseController(
                    c,
                    tools=self.tools,
                    clock=env.clock,
                    wall_clock=env.clock,
                    sleep=sleep,
                    **self.settings,
                )
                if method == "events":
                    return [e async for e in ctl.events(**kw)]
                return await getattr(ctl, method)(**kw)

        return anyio.run(main)

    def run(self, scenario: str, **kw: Any) -> ResponseOutcome:
        meta = {"scenario": scenario}
        out: ResponseOutcome = self.call(
            "run", model="sim-model", input=QUESTION, metadata=meta, **kw
        )
        return out


@pytest.fixture(params=["sync", "async"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(sim_profile: str) -> Iterator[Env]:
    with open_env(sim_profile) as e:
        yield e


def chains(kind: str, env: Env, box: ToolBox | None = None, **settings: Any) -> Chains:
    return Chains(kind, env, box.registry if box is not None else None, **settings)


@pytest.mark.parametrize("stream", [False, True], ids=["poll", "stream"])
def test_an_order_total_chain_runs_the_tool_once_and_answers_with_its_output(
    kind: str, env: Env, stream: bool
) -> None:
    box = make_toolbox()
    out = chains(kind, env, box, stream=stream).run("order-total", instructions="be brief")
    assert out.status == "completed"
    assert out.ok
    assert box.count("calculate_order_total") == 1
    assert len(out.response_ids) == 2
    (call,) = out.tool_calls
    assert (call.call_id, call.name, call.state) == (call.id, "calculate_order_total", "delivered")
    chain = env.sim.response_chain(out.response_ids[-1])
    assert [e.response_id for e in chain] == list(out.response_ids)
    (submitted,) = chain[1].outputs
    assert submitted.tool_call_id == call.call_id
    assert submitted.output == call.output
    assert str(json.loads(submitted.output)) in out.output_text
    assert out.raise_for_status() is out
    assert out.response is not None
    assert out.response.id == out.response_ids[-1]
    assert [e.dest for e in out.history][-1] == "completed"
    assert "requires_action" in [e.dest for e in out.history]


def test_every_create_of_the_chain_is_background_and_carries_the_chains_arguments(
    env: Env,
) -> None:
    """The next response repeats model, instructions and tools (previous_response_id does not
    carry them) and sends only the outputs as input."""
    box = make_toolbox()
    out = chains("sync", env, box).run("order-total", instructions="be brief", temperature=0.2)
    first, second = (env.sim.responses.responses[i] for i in out.response_ids)
    for response in (first, second):
        body = response.payload()
        assert body["background"] is True
        assert body["instructions"] == "be brief"
        assert body["model"] == "sim-model"
        assert [t["name"] for t in body["tools"]] == list(box.registry.names)
        assert all(t["type"] == "function" and "parameters" in t for t in body["tools"])
    assert second.payload()["previous_response_id"] == out.response_ids[0]


def test_two_rounds_chain_three_responses(kind: str, env: Env) -> None:
    box = make_toolbox()
    out = chains(kind, env, box).run("two-rounds")
    assert out.status == "completed"
    assert len(out.response_ids) == 3
    assert {t.name for t in out.tool_calls} == {"lookup_prices", "calculate_order_total"}
    assert all(t.state == "delivered" for t in out.tool_calls)


@pytest.mark.parametrize(("scenario", "error"), [("fails", RunFailed)])
def test_a_failed_chain_is_a_result_and_raise_for_status_raises(
    kind: str, env: Env, scenario: str, error: type[Exception]
) -> None:
    out = chains(kind, env, make_toolbox()).run(scenario)
    assert out.status == "failed"
    with pytest.raises(error):
        out.raise_for_status()


def test_an_incomplete_chain_keeps_its_reason(env: Env) -> None:
    out = chains("sync", env, make_toolbox()).run("incomplete")
    assert out.status == "incomplete"
    assert not out.ok


def test_a_user_cancel_cancels_the_live_response(kind: str, env: Env) -> None:
    token = CancelToken()
    token.cancel()
    out = chains(kind, env, make_toolbox()).run("never-finishes", cancel_token=token)
    assert out.status == "cancelled"
    assert out.cancel_requested
    assert env.sim.request_count("POST", RESPONSES + "/*/cancel") == 1


def test_cancel_method_and_a_lost_race(kind: str, env: Env) -> None:
    """cancel(response_id=...) on a response whose scenario loses the race: the cancel's answer
    (cancelled) is what the cancel reports; a later drive() reads what it became."""
    raw = env.client.responses.create(
        model="sim-model", input="x", background=True, metadata={"scenario": "cancel-loses-race"}
    )
    c = chains(kind, env, make_toolbox())
    out = c.call("cancel", response_id=raw.id)
    assert (out.status, out.cancel_requested, out.cancel_lost_race) == ("cancelled", True, False)
    assert env.sim.request_count("POST", RESPONSES + "/*/cancel") == 1
    env.clock.advance(1.0)  # the response flips: cancelled, then completed anyway
    again = c.call("drive", response_id=raw.id)
    assert (again.status, again.output_text) == ("completed", "Finished anyway.")
    assert env.sim.request_count("POST", RESPONSES + "/*/cancel") == 1  # drive() never cancels


def test_a_lost_create_answer_is_never_sent_again(kind: str, env: Env) -> None:
    """The create is applied but its answer is lost: the controller raises and never creates a
    second response (there is no responses.list to look it up, no idempotency key)."""
    env.sim.faults.add(Fault(method="POST", path=RESPONSES, applied_then_fail="drop"))
    with pytest.raises(openai.APIConnectionError):
        chains(kind, env, make_toolbox()).run("order-total")
    assert len(env.sim.response_ids()) == 1  # applied once, never created again


def test_a_lost_next_response_ends_outcome_unknown_and_is_not_duplicated(
    kind: str, env: Env
) -> None:
    """The next response's create is applied, its answer lost: no second attempt, no fork."""
    env.sim.faults.add(Fault(method="POST", path=RESPONSES, applied_then_fail="drop", nth=2))
    box = make_toolbox()
    out = chains(kind, env, box).run("order-total")
    assert out.ending.kind.value == "outcome_unknown"
    assert out.ending.detail == "submit"
    assert len(env.sim.response_ids()) == 2  # the first, and the applied next one: no third
    assert box.count("calculate_order_total") == 1


def test_events_report_each_response_change_and_end_with_the_outcome(env: Env) -> None:
    events = chains("async", env, make_toolbox()).call(
        "events", model="sim-model", input=QUESTION, metadata={"scenario": "order-total"}
    )
    assert isinstance(events[-1], ChainFinished)
    changes = [e for e in events if isinstance(e, ResponseChanged)]
    assert {e.response_id for e in changes} == set(events[-1].outcome.response_ids)
    assert changes[-1].status == "completed"
    # every move of the journal is reported once, our own into the next response included
    # (with that response's id)
    reported = [(e.response_id, j.source, j.dest, j.via) for e in changes for j in e.entries]
    ids = events[-1].outcome.response_ids
    assert [r[1:] for r in reported] == [
        (j.source, j.dest, j.via) for j in events[-1].outcome.history
    ]
    assert ("requires_action", "queued", "client") in [r[1:] for r in reported if r[0] == ids[1]]


def test_the_controller_refuses_arguments_it_owns(env: Env) -> None:
    ctl = ResponseController(env.client, tools=ToolRegistry())
    with pytest.raises(ValueError, match="previous_response_id"):
        ctl.run(model="m", input="x", previous_response_id="resp_1")
    with pytest.raises(ValueError, match="background"):
        ctl.run(model="m", input="x", background=False)
    with pytest.raises(ValueError, match="model"):
        ctl.run(model="", input="x")


def test_no_poll_after_headers_first_poll_at_once(kind: str) -> None:
    """Against a server that never sends openai-poll-after-ms the chain still polls at once
    after each create and finishes; no wait is longer than the poll interval."""
    with open_env("no-poll-after") as env:
        box = make_toolbox()
        driver = chains(kind, env, box, config=ControllerConfig())
        out = driver.run("order-total")
        assert out.status == "completed"
        assert max(driver.sleeps) <= 1.0
        assert box.count("calculate_order_total") == 1
