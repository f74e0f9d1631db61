"""Webhooks for background responses, checked with the SDK's own verifier.

``client.webhooks.unwrap(body, headers, secret=...)`` must accept every delivery the simulator
signs and refuse each spoiled one. Deliveries go to an ``httpx2.MockTransport`` (in-process) or,
once, to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import httpx2
import openai
import pytest

from adapters.simulator import ManualClock, Simulator, new_secret, sign

from .conftest import IN_PROCESS_URL

MakeSim = Callable[..., Simulator]
SECRET = "whsec_" + "c2ltdWxhdG9yLXdlYmhvb2stc2VjcmV0LWZvci10ZXN0cw=="


class Inbox:
    """A webhook receiver behind a mock transport: records every request, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[httpx2.Request] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        self.requests.append(request)
        return httpx2.Response(self.status)

    def client(self) -> httpx2.Client:
        return httpx2.Client(transport=httpx2.MockTransport(self.handle))


@pytest.fixture
def inbox() -> Inbox:
    """An empty receiver."""
    return Inbox()


@pytest.fixture
def hooked(make_sim: MakeSim, inbox: Inbox) -> Simulator:
    """A simulator on the manual clock that posts webhooks to :func:`inbox`."""
    return make_sim(
        webhook_url="https://hooks.example/openai",
        webhook_secret=SECRET,
        webhook_client=inbox.client(),
    )


@pytest.fixture
def hclient(hooked: Simulator) -> Iterator[openai.OpenAI]:
    """The SDK in-process against :func:`hooked` (also used for ``webhooks.unwrap``)."""
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=hooked.http_client(), max_retries=0
    ) as client:
        yield client


def _background(client: openai.OpenAI, scenario: str) -> str:
    return client.responses.create(
        model="m", input="x", background=True, metadata={"scenario": scenario}
    ).id


def _unwrap(client: openai.OpenAI, request: httpx2.Request) -> Any:
    return client.webhooks.unwrap(request.content, dict(request.headers), secret=SECRET)


def test_a_completed_response_is_announced_and_verifies(
    hclient: openai.OpenAI, hooked: Simulator, inbox: Inbox, clock: ManualClock
) -> None:
    """response.completed, signed so that the SDK's unwrap accepts it and parses the event."""
    response_id = _background(hclient, "text")
    clock.advance(1)
    assert hooked.webhooks is not None
    [delivery] = hooked.webhooks.flush()
    [request] = inbox.requests
    event = _unwrap(hclient, request)
    assert (event.type, event.data.id, event.object) == ("response.completed", response_id, "event")
    assert event.created_at == int(hooked.response_history(response_id)[-1][1])
    assert (delivery.status, delivery.error, delivery.tamper) == (200, None, None)
    assert request.url == "https://hooks.example/openai"
    assert request.headers["webhook-id"] == event.id
    assert request.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("scenario", "event_type"),
    [("fails", "response.failed"), ("incomplete", "response.incomplete")],
)
def test_every_terminal_status_has_its_event(
    hclient: openai.OpenAI,
    hooked: Simulator,
    inbox: Inbox,
    clock: ManualClock,
    scenario: str,
    event_type: str,
) -> None:
    """failed and incomplete responses send their own event types."""
    _background(hclient, scenario)
    clock.advance(1)
    assert hooked.webhooks is not None
    hooked.webhooks.flush()
    assert [_unwrap(hclient, r).type for r in inbox.requests] == [event_type]


def test_a_cancel_sends_response_cancelled(
    hclient: openai.OpenAI, hooked: Simulator, inbox: Inbox
) -> None:
    """Cancelling a queued background response announces response.cancelled."""
    response_id = _background(hclient, "text")
    hclient.responses.cancel(response_id)
    assert hooked.webhooks is not None
    hooked.webhooks.flush()
    assert [(e.type, e.data.id) for e in (_unwrap(hclient, r) for r in inbox.requests)] == [
        ("response.cancelled", response_id)
    ]


def test_a_lost_cancel_race_announces_both_outcomes(
    hclient: openai.OpenAI, hooked: Simulator, inbox: Inbox, clock: ManualClock
) -> None:
    """cancel-loses-race: response.cancelled, then response.completed when it flips."""
    response_id = _background(hclient, "cancel-loses-race")
    hclient.responses.cancel(response_id)
    clock.advance(1)
    assert hooked.webhooks is not None
    hooked.webhooks.flush()
    assert [_unwrap(hclient, r).type for r in inbox.requests] == [
        "response.cancelled",
        "response.completed",
    ]


def test_foreground_responses_send_no_webhooks(make_sim: MakeSim, inbox: Inbox) -> None:
    """Webhooks are for background responses only."""
    sim = make_sim(
        clock=ManualClock(autoadvance=0.01),
        webhook_url="https://hooks.example/x",
        webhook_client=inbox.client(),
    )
    with openai.OpenAI(
        base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client(), max_retries=0
    ) as client:
        client.responses.create(model="m", input="x", metadata={"scenario": "text"})
    assert sim.webhooks is not None
    assert sim.webhooks.secret.startswith("whsec_")
    assert sim.webhooks.flush() == []


@pytest.mark.parametrize(
    ("tamper", "error", "match"),
    [
        ("signature", openai.InvalidWebhookSignatureError, "does not match"),
        ("body", openai.InvalidWebhookSignatureError, "does not match"),
        ("timestamp", openai.InvalidWebhookSignatureError, "too old"),
        ("unsigned", ValueError, "webhook-signature"),
    ],
)
def test_a_spoiled_delivery_is_refused_by_the_sdk(
    hclient: openai.OpenAI,
    hooked: Simulator,
    inbox: Inbox,
    clock: ManualClock,
    tamper: Any,
    error: type[Exception],
    match: str,
) -> None:
    """tamper_next spoils the next delivery; the SDK's unwrap refuses it, the next one is good."""
    assert hooked.webhooks is not None
    hooked.webhooks.tamper_next(tamper)
    _background(hclient, "text")
    _background(hclient, "text")
    clock.advance(1)
    first, second = hooked.webhooks.flush()
    assert (first.tamper, second.tamper) == (tamper, None)
    with pytest.raises(error, match=match):
        _unwrap(hclient, inbox.requests[0])
    assert _unwrap(hclient, inbox.requests[1]).type == "response.completed"


def test_send_posts_one_event_by_hand(hclient: openai.OpenAI, hooked: Simulator) -> None:
    """WebhookSender.send builds, signs (or spoils) and posts at once."""
    assert hooked.webhooks is not None
    good = hooked.webhooks.send("response.failed", "resp_x", at=5)
    bad = hooked.webhooks.send("response.failed", "resp_x", tamper="signature")
    event = hclient.webhooks.unwrap(good.body, good.headers, secret=SECRET)
    assert (event.type, event.data.id, event.created_at) == ("response.failed", "resp_x", 5)
    with pytest.raises(openai.InvalidWebhookSignatureError):
        hclient.webhooks.unwrap(bad.body, bad.headers, secret=SECRET)


def test_sign_follows_standard_webhooks() -> None:
    """v1, then base64 HMAC-SHA256 over id.timestamp.body, keyed by the decoded secret."""
    secret = new_secret()
    body = b'{"a":1}'
    signature = sign(body, secret, "evt_1", 1700000000)
    with openai.OpenAI(api_key="sk", base_url=IN_PROCESS_URL) as client:
        headers = {
            "webhook-id": "evt_1",
            "webhook-timestamp": "1700000000",
            "webhook-signature": signature,
        }
        with pytest.raises(openai.InvalidWebhookSignatureError, match="too old"):
            client.webhooks.verify_signature(body, headers, secret=secret)
        headers["webhook-timestamp"] = str(int(time.time()))
        headers["webhook-signature"] = sign(body, secret, "evt_1", int(time.time()))
        client.webhooks.verify_signature(body, headers, secret=secret)
    assert signature.startswith("v1,")


def test_a_failed_delivery_is_recorded(make_sim: MakeSim, clock: ManualClock) -> None:
    """A receiver answering 500, or none at all: recorded, not raised, not retried."""
    inbox = Inbox(status=500)
    sim = make_sim(webhook_url="https://hooks.example/x", webhook_client=inbox.client())
    assert sim.webhooks is not None
    delivery = sim.webhooks.send("response.completed", "resp_1")
    assert (delivery.status, delivery.error) == (500, None)
    nobody = make_sim(webhook_url="http://127.0.0.1:9/closed")
    assert nobody.webhooks is not None
    missed = nobody.webhooks.send("response.completed", "resp_1")
    assert missed.status is None
    assert missed.error is not None


class _Handler(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[bytes, dict[str, str]]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        self.received.append((body, dict(self.headers.items())))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_webhooks_arrive_over_http_without_any_polling() -> None:
    """On the wall clock the sender's thread ticks the simulator: a background response that
    nobody polls is still announced, to a real HTTP receiver."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        with (
            Simulator(webhook_url=url, webhook_secret=SECRET) as sim,
            openai.OpenAI(
                base_url=IN_PROCESS_URL, api_key="sk", http_client=sim.http_client()
            ) as client,
        ):
            response_id = _background(client, "text")
            deadline = time.monotonic() + 5
            while not _Handler.received and time.monotonic() < deadline:
                time.sleep(0.01)
            [(body, headers)] = _Handler.received
            event = client.webhooks.unwrap(body, headers, secret=SECRET)
    finally:
        server.shutdown()
        server.server_close()
    assert (event.type, event.data.id) == ("response.completed", response_id)
