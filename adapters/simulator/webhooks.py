"""Webhooks from the simulator: ``response.completed|failed|cancelled|incomplete``, signed.

Theory of operation
-------------------
A client that waits for webhooks instead of polling never asks the simulator anything, and the
simulator only moves when asked (it is lazy, see ``_engine.py``). So a :class:`WebhookSender`
owns a small daemon thread that, every ``interval`` seconds of real time, *ticks* the simulator
(advances every run and response to the clock's now) and then delivers what became due: each
terminal status a background response entered is one event, queued by the response engine
(engine lock held) and POSTed here without it. With a
:class:`~adapters.simulator.ManualClock`, advance the clock and call :meth:`WebhookSender.flush`.

The wire format is OpenAI's (Standard Webhooks), as ``client.webhooks.unwrap(body, headers,
secret=...)`` in the SDK verifies it (``openai/lib/_webhooks.py``):

* body: ``{"id": "evt_...", "object": "event", "created_at": <sim time>, "type":
  "response.completed", "data": {"id": "resp_..."}}`` (``types/webhooks/``);
* ``webhook-id`` (the event id), ``webhook-timestamp`` (Unix seconds, **wall clock**: the SDK
  refuses timestamps more than 300 s from its own ``time.time()``, whatever the sim clock says);
* ``webhook-signature: v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">``, keyed with the
  base64-decoded part of the ``whsec_...`` secret (a secret without the prefix is used as bytes).

Badly signed deliveries, for the receiving side's tests (:data:`Tamper`): ``"signature"`` (signed
with another secret), ``"timestamp"`` (validly signed, an hour old), ``"body"`` (signed, then the
body changed) and ``"unsigned"`` (no ``webhook-signature``). Arm them with
:meth:`WebhookSender.tamper_next`, or send one by hand with :meth:`WebhookSender.send`. Each
delivery is sent once (the real service retries failed ones; this one records the failure).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx2

__all__ = ["Tamper", "WebhookDelivery", "WebhookSender", "new_secret", "sign"]

Json = dict[str, Any]
#: how a delivery is spoiled on purpose (see the module docstring)
Tamper = Literal["signature", "timestamp", "body", "unsigned"]
_USER_AGENT = "OpenAI/1.0 (+https://platform.openai.com/docs/webhooks)"
_STALE_SECONDS = 3600


def new_secret() -> str:
    """A fresh ``whsec_`` secret (32 random bytes, base64)."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()


def sign(body: bytes, secret: str, webhook_id: str, timestamp: int) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC-SHA256 of
    ``"<webhook_id>.<timestamp>.<body>"`` keyed with the secret."""
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """One webhook POST the simulator made.

    Attributes:
        event: the event object (as signed; a ``"body"`` tamper sent something else).
        body: the bytes sent.
        headers: the headers sent.
        tamper: how it was spoiled on purpose, if at all.
        status: the receiver's HTTP status, or ``None`` when the POST failed.
        error: why the POST failed, if it did.
    """

    event: Json
    body: bytes
    headers: dict[str, str]
    tamper: Tamper | None
    status: int | None
    error: str | None


class WebhookSender:
    """Sends the simulator's webhooks to ``url`` from a daemon thread.

    Args:
        url: where to POST.
        secret: the ``whsec_...`` signing secret.
        tick: advances the simulator to now (called from the sender's thread).
        client: the HTTP client to POST with (default: a new ``httpx2.Client``); pass one with
            a mock transport to receive in-process.
        wall_clock: the clock for ``webhook-timestamp`` (default ``time.time``).
        interval: seconds between ticks of the sender's thread.
    """

    def __init__(
        self,
        url: str,
        secret: str,
        tick: Callable[[], None],
        *,
        client: httpx2.Client | None = None,
        wall_clock: Callable[[], float] = time.time,
        interval: float = 0.01,
    ) -> None:
        self.url = url
        self.secret = secret
        self._tick = tick
        self._own_client = client is None
        self._client = client if client is not None else httpx2.Client(timeout=5.0)
        self._wall = wall_clock
        self._interval = interval
        self._cond = threading.Condition()
        self._outbox: deque[Json] = deque()
        self._busy = 0
        self._tampers: deque[Tamper] = deque()
        self._deliveries: list[WebhookDelivery] = []
        self._stopped = False
        self._thread = threading.Thread(target=self._loop, name="simulator-webhooks", daemon=True)
        self._thread.start()

    # -- queueing ------------------------------------------------------------------------------

    def enqueue(self, event_type: str, object_id: str, at: float) -> None:
        """Queue the event ``event_type`` about ``object_id`` (sim time ``at``); thread-safe."""
        with self._cond:
            self._outbox.append(self.event(event_type, object_id, at))
            self._cond.notify_all()

    @staticmethod
    def event(event_type: str, object_id: str, at: float) -> Json:
        """The event object OpenAI sends (``types/webhooks/response_*_webhook_event.py``)."""
        return {
            "id": "evt_" + uuid.uuid4().hex,
            "object": "event",
            "created_at": int(at),
            "type": event_type,
            "data": {"id": object_id},
        }

    def tamper_next(self, how: Tamper = "signature", times: int = 1) -> None:
        """Spoil the next ``times`` automatic deliveries ``how``."""
        with self._cond:
            self._tampers.extend([how] * times)

    # -- delivery ------------------------------------------------------------------------------

    def send(
        self, event_type: str, object_id: str, *, at: float = 0.0, tamper: Tamper | None = None
    ) -> WebhookDelivery:
        """Build, sign (or spoil) and POST one event now, from the calling thread."""
        return self._post(self.event(event_type, object_id, at), tamper)

    def headers(self, body: bytes, webhook_id: str, tamper: Tamper | None = None) -> dict[str, str]:
        """The headers of a delivery of ``body`` (spoiled ``tamper``, if given)."""
        timestamp = int(self._wall()) - (_STALE_SECONDS if tamper == "timestamp" else 0)
        secret = new_secret() if tamper == "signature" else self.secret
        headers = {
            "content-type": "application/json",
            "user-agent": _USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(body, secret, webhook_id, timestamp),
        }
        if tamper == "unsigned":
            del headers["webhook-signature"]
        return headers

    def _post(self, event: Json, tamper: Tamper | None) -> WebhookDelivery:
        body = json.dumps(event, separators=(",", ":")).encode()
        headers = self.headers(body, str(event["id"]), tamper)
        if tamper == "body":
            changed = {**event, "data": {"id": str(event["data"]["id"]) + "x"}}
            body = json.dumps(changed, separators=(",", ":")).encode()
        status: int | None = None
        error: str | None = None
        try:
            status = self._client.post(self.url, content=body, headers=headers).status_code
        except httpx2.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        delivery = WebhookDelivery(event, body, headers, tamper, status, error)
        with self._cond:
            self._deliveries.append(delivery)
        return delivery

    def _drain(self) -> None:
        while True:
            with self._cond:
                if not self._outbox:
                    return
                event = self._outbox.popleft()
                tamper = self._tampers.popleft() if self._tampers else None
                self._busy += 1
            try:
                self._post(event, tamper)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if self._stopped:
                    return
                self._cond.wait(self._interval)
                if self._stopped:
                    return
            self._tick()
            self._drain()

    def flush(self, timeout: float = 5.0) -> list[WebhookDelivery]:
        """Tick the simulator, then wait until every queued event has been delivered.

        Returns:
            Every delivery so far, oldest first.

        Raises:
            TimeoutError: when deliveries are still pending after ``timeout`` seconds.
        """
        self._tick()
        deadline = time.monotonic() + timeout
        with self._cond:
            self._cond.notify_all()
            while self._outbox or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("webhook deliveries still pending")
                self._cond.wait(left)
            return list(self._deliveries)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        """Every delivery so far, oldest first (a copy)."""
        with self._cond:
            return list(self._deliveries)

    def close(self) -> None:
        """Stop the sender's thread (pending events are dropped); idempotent."""
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        if self._own_client:
            self._client.close()
