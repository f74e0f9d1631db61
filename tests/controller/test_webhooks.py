"""Webhooks into drives: the user's endpoint feeds a :class:`WebhookInbox`; a verified
``response.*`` event ends the drive's wait at once, the poll it triggers is journaled
``via="webhook"``; a badly signed delivery is refused, recorded, and wakes nothing.

Real time, on purpose: the simulator's webhook sender ticks on a real clock and the inbox waits
are real-time waits. The poll interval is long (30 s), so only a webhook can end the runs in
about a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import openai
import pytest

from adapters.openai import (
    AsyncResponseController,
    ControllerConfig,
    ResponseController,
    ResponseOutcome,
    WebhookInbox,
    WebhookRefused,
)
from adapters.simulator import Answer, Queue, Scenario, Simulator, SimulatorServer, Work
from adapters.simulator.webhooks import new_secret
from tests.controller.conftest import API_KEY

SECRET = new_secret()
SLOW = Scenario((Queue(), Work(1.0), Answer("done")))
LONG_POLLS = ControllerConfig(poll_interval_s=30.0, overall_timeout_s=120.0)


class Endpoint:
    """The user's webhook endpoint: hands each delivery to the inbox, 400 when refused."""

    def __init__(self, inbox: WebhookInbox) -> None:
        self.inbox = inbox
        self.statuses: list[int] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        try:
            self.inbox.receive(request.content, dict(request.headers))
            status = 200
        except WebhookRefused:
            status = 400
        self.statuses.append(status)
        return httpx2.Response(status)


class Hooked:
    def __init__(self, sim: Simulator, server: SimulatorServer, inbox: WebhookInbox) -> None:
        self.sim, self.server, self.inbox = sim, server, inbox

    def run(self, kind: str, **settings: Any) -> ResponseOutcome:
        args: dict[str, Any] = {
            "model": "sim-model",
            "input": "hello",
            "metadata": {"scenario": "slow"},
        }
        if kind == "sync":
            with openai.OpenAI(base_url=self.server.base_url, api_key=API_KEY) as client:
                return ResponseController(client, **settings).run(**args)

        async def main() -> ResponseOutcome:
            async with openai.AsyncOpenAI(base_url=self.server.base_url, api_key=API_KEY) as c:
                return await AsyncResponseController(c, **settings).run(**args)

        return anyio.run(main)

    def retrieves(self) -> int:
        return sum(1 for r in self.sim.requests if r.method == "GET")


@contextlib.contextmanager
def hooked() -> Iterator[Hooked]:
    verifier = openai.OpenAI(api_key=API_KEY, base_url="http://127.0.0.1:9/v1")  # never called
    inbox = WebhookInbox(verifier, secret=SECRET)
    endpoint = Endpoint(inbox)
    sim = Simulator(
        profile="no-poll-after",  # the server suggests no poll times: the schedule's own apply
        scenarios={"slow": SLOW},
        webhook_url="https://hooks.example/openai",
        webhook_secret=SECRET,
        webhook_client=httpx2.Client(transport=httpx2.MockTransport(endpoint.handle)),
    )
    try:
        with SimulatorServer(sim) as server:
            yield Hooked(sim, server, inbox)
    finally:
        sim.close()
        verifier.close()


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_webhook_ends_the_wait_and_the_poll_it_triggers_is_journaled(kind: str) -> None:
    with hooked() as env:
        out = env.run(kind, webhooks=env.inbox, config=LONG_POLLS)
        assert out.status == "completed"
        assert out.history[-1].via == "webhook"
        assert env.inbox.received == 1
        # the schedule's early polls (at once, then 0.25, 0.5, 1 s...), then the webhook's
        assert env.retrieves() <= 6


def test_a_badly_signed_webhook_is_refused_recorded_and_wakes_nothing() -> None:
    with hooked() as env:
        assert env.sim.webhooks is not None
        env.sim.webhooks.tamper_next("signature")
        out = env.run(
            "sync",
            webhooks=env.inbox,
            config=ControllerConfig(poll_interval_s=2.0, overall_timeout_s=60.0),
        )
        assert out.status == "completed"
        assert out.history[-1].via == "poll"  # the refused event did not count
        assert env.inbox.received == 0
        (refused,) = env.inbox.refused
        assert "signature" in refused.reason.lower()
        assert SECRET not in refused.reason


def test_the_inbox_refuses_garbage_and_a_stale_timestamp() -> None:
    verifier = openai.OpenAI(api_key=API_KEY, base_url="http://127.0.0.1:9/v1")
    inbox = WebhookInbox(verifier, secret=SECRET)
    with pytest.raises(WebhookRefused, match="webhook refused"):
        inbox.receive(b"not json", {"webhook-id": "evt_1"})
    with pytest.raises(WebhookRefused):
        inbox.receive(b"{}", {})
    assert [r.webhook_id for r in inbox.refused] == ["evt_1", None]
    assert inbox.received == 0
    verifier.close()


def test_a_wait_that_started_after_the_event_returns_at_once() -> None:
    """An event that arrived while the drive was busy (between its read and its wait) is not
    lost: the wait is measured from the count at the last read."""
    verifier = openai.OpenAI(api_key=API_KEY, base_url="http://127.0.0.1:9/v1")
    inbox = WebhookInbox(verifier, secret=SECRET)
    since = inbox.count("resp_1")
    inbox.push("resp_1")
    assert inbox.wait("resp_1", since, timeout=30.0) is True
    assert inbox.wait("resp_2", 0, timeout=0.01) is False

    async def main() -> tuple[bool, bool]:
        return (
            await inbox.wait_async("resp_1", since, 30.0),
            await inbox.wait_async("resp_1", inbox.count("resp_1"), 0.01),
        )

    assert anyio.run(main) == (True, False)
    verifier.close()
