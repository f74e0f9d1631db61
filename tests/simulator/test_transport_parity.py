"""The in-process transports and the loopback server serve the same bytes and headers, per profile.

Tests that are not about sockets use ``Simulator.http_client()``; that is only sound if nothing a
profile does (poll-after texts, JSON for stream requests, garbage bodies, odd headers, SSE) differs
from what uvicorn sends. Two simulators with the same seed, profile and clock run the same script
of SDK requests, one in-process and one over 127.0.0.1; every response must match byte for byte,
headers included, apart from ``transfer-encoding`` (HTTP/1.1 framing that uvicorn adds to a body
of unknown length and an in-process response does not need).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx2
import openai
import pytest

from adapters.simulator import PROFILES, ManualClock, Simulator, SimulatorServer

from .conftest import IN_PROCESS_URL

pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")

Exchange = tuple[str, int, list[tuple[bytes, bytes]], bytes]
_FRAMING = frozenset({b"transfer-encoding"})


def _sim(profile: str) -> Simulator:
    return Simulator(clock=ManualClock(autoadvance=0.01), profile=profile, seed=11)


class _Script:
    """Runs the request script against one client, recording every raw response."""

    def __init__(self, client: openai.OpenAI, sim: Simulator) -> None:
        self.client, self.sim = client, sim
        self.seen: list[Exchange] = []

    def call(self, label: str, request: Callable[[], Any]) -> httpx2.Response:
        try:
            response: httpx2.Response = request().http_response
        except openai.APIStatusError as error:
            response = error.response
        body = response.read()
        headers = [(k, v) for k, v in response.headers.raw if k.lower() not in _FRAMING]
        self.seen.append((label, response.status_code, headers, body))
        return response

    def call_id(self, run_id: str) -> str:
        required = self.sim.runs[run_id].required
        return required[0].id if required else "call_none"

    def run(self) -> list[Exchange]:
        beta, clock = self.client.beta, self.sim.clock
        assert isinstance(clock, ManualClock)
        runs = beta.threads.runs.with_raw_response
        assistant = self.call(
            "assistant", lambda: beta.assistants.with_raw_response.create(model="m")
        )
        asst = assistant.json()["id"]
        messages: Any = [{"role": "user", "content": "How much is my order?"}]
        thread = self.call(
            "thread", lambda: beta.threads.with_raw_response.create(messages=messages)
        )
        tid = thread.json()["id"]
        meta = {"scenario": "order-total"}
        created = self.call("create", lambda: runs.create(tid, assistant_id=asst, metadata=meta))
        rid = created.json()["id"]
        for i in range(3):
            clock.advance(0.5)
            self.call(f"retrieve {i}", lambda: runs.retrieve(rid, thread_id=tid))
        self.call("update", lambda: runs.update(rid, thread_id=tid, metadata={"k": "v"}))
        self.call("list", lambda: runs.list(tid))
        outputs: Any = [{"tool_call_id": self.call_id(rid), "output": "280"}]
        self.call(
            "submit", lambda: runs.submit_tool_outputs(rid, thread_id=tid, tool_outputs=outputs)
        )
        self.call("cancel", lambda: runs.cancel(rid, thread_id=tid))
        self.call("missing", lambda: runs.retrieve("run_missing", thread_id=tid))
        self._streams(asst)
        self._responses()
        return self.seen

    def _responses(self) -> None:
        responses, clock = self.client.responses.with_raw_response, self.sim.clock
        assert isinstance(clock, ManualClock)
        created = self.call(
            "response create", lambda: responses.create(model="m", input="x", background=True)
        )
        rid = created.json()["id"]
        for i in range(3):
            clock.advance(0.5)
            got = self.call(f"response retrieve {i}", lambda: responses.retrieve(rid))
        calls = [o for o in got.json().get("output", []) if o["type"] == "function_call"]
        outputs: Any = [
            {"type": "function_call_output", "call_id": c["call_id"], "output": "280"}
            for c in calls
        ]
        self.call(
            "response next stream",
            lambda: responses.create(
                model="m", previous_response_id=rid, input=outputs, background=True, stream=True
            ),
        )
        self.call("response resume", lambda: responses.retrieve(rid, stream=True, starting_after=2))
        self.call("response cancel", lambda: responses.cancel(rid))
        self.call(
            "response items", lambda: self.client.responses.input_items.with_raw_response.list(rid)
        )
        self.call("response delete", lambda: responses.delete(rid))
        self.call("response missing", lambda: responses.retrieve(rid))
        self.call(
            "response foreground",
            lambda: responses.create(model="m", input="x", metadata={"scenario": "text"}),
        )

    def _streams(self, asst: str) -> None:
        beta, clock = self.client.beta, self.sim.clock
        assert isinstance(clock, ManualClock)
        runs = beta.threads.runs.with_raw_response
        text, tools = beta.threads.create().id, beta.threads.create().id
        meta = {"scenario": "text"}
        self.call(
            "stream text", lambda: runs.create(text, assistant_id=asst, metadata=meta, stream=True)
        )
        created = self.call(
            "stream tools", lambda: runs.create(tools, assistant_id=asst, stream=True)
        )
        rid = next(r.id for r in self.sim.runs.values() if r.thread_id == tools)
        clock.advance(1)
        self.call("retrieve tools", lambda: runs.retrieve(rid, thread_id=tools))
        outputs: Any = [{"tool_call_id": self.call_id(rid), "output": "280"}]
        self.call(
            "stream submit",
            lambda: runs.submit_tool_outputs(
                rid, thread_id=tools, tool_outputs=outputs, stream=True
            ),
        )
        self.call(
            "stream thread and run",
            lambda: beta.threads.with_raw_response.create_and_run(
                assistant_id=asst, metadata=meta, stream=True
            ),
        )
        assert created.status_code == 200


def _in_process(profile: str) -> list[Exchange]:
    sim = _sim(profile)
    with (
        sim,
        openai.OpenAI(
            base_url=IN_PROCESS_URL,
            api_key="sk-sim-test",
            http_client=sim.http_client(),
            max_retries=0,
        ) as client,
    ):
        return _Script(client, sim).run()


def _loopback(profile: str) -> list[Exchange]:
    sim = _sim(profile)
    with (
        SimulatorServer(sim) as server,
        openai.OpenAI(base_url=server.base_url, api_key="sk-sim-test", max_retries=0) as client,
    ):
        return _Script(client, sim).run()


@pytest.mark.parametrize("profile", sorted(PROFILES))
def test_in_process_and_loopback_serve_the_same_bytes(profile: str) -> None:
    """Every response of the script matches: status, headers (names, case, order), body."""
    inside, outside = _in_process(profile), _loopback(profile)
    assert [e[0] for e in inside] == [e[0] for e in outside]
    for got, want in zip(inside, outside, strict=True):
        assert got == want, got[0]
    statuses = {status for _, status, _, _ in inside}
    assert {200, 404} <= statuses
