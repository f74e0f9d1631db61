"""Webhooks into drives: a verified event about an object ends a drive's wait at once.

Theory of operation
-------------------
OpenAI announces the end of a background response (``response.completed|failed|cancelled|
incomplete``; batches, fine-tuning jobs and evals too) with a signed webhook whose ``data.id``
names the object. A :class:`WebhookInbox` is where a user's web handler hands each delivery:
:meth:`WebhookInbox.receive` verifies it with the SDK (``client.webhooks.unwrap``: the signature,
the timestamp's age, the body) and counts it per object id, or refuses it (one line, recorded in
:attr:`WebhookInbox.refused`, never counted).

A controller built with ``webhooks=inbox`` waits between polls *on the inbox*: a counted event
about the object it follows ends the wait early, and the poll that follows is journaled
``via="webhook"``. The poll schedule stays the safety net (a webhook can be lost or late), so a
user with webhooks sets a long ``poll_interval_s`` and polls far less. The event itself is not
trusted for the status: it only says *look now*; the server's answer to that look is the
observation (a ``response.completed`` does not say whether the response asks for tools).

Waits on an inbox are real-time waits (a ``threading.Condition`` for the sync controller, an
``asyncio.Event`` set from any thread for the async one).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from adapters.openai._logging import logger
from lifecycle import LifecycleError

__all__ = ["RefusedWebhook", "WebhookInbox", "WebhookRefused"]

#: how many refused deliveries the inbox keeps
MAX_REFUSED = 100


class WebhookRefused(LifecycleError):
    """A webhook delivery that did not verify (bad signature, stale timestamp, bad body)."""


@dataclass(frozen=True, slots=True)
class RefusedWebhook:
    """A delivery the inbox refused.

    Attributes:
        at: when (epoch seconds).
        reason: why, in one line (never the body or the secret).
        webhook_id: the ``webhook-id`` header, if there was one.
    """

    at: float
    reason: str
    webhook_id: str | None


class WebhookInbox:
    """Verified webhook events, counted per object id, that wake the drives waiting on them.

    Args:
        client: an ``openai.OpenAI`` or ``openai.AsyncOpenAI`` client (its ``webhooks.unwrap``
            verifies deliveries; verification does no I/O).
        secret: the endpoint's ``whsec_...`` signing secret (default: the client's
            ``webhook_secret``, i.e. ``OPENAI_WEBHOOK_SECRET``).

    Example::

        inbox = WebhookInbox(client, secret=os.environ["OPENAI_WEBHOOK_SECRET"])
        controller = ResponseController(client, tools=registry, webhooks=inbox,
                                        config=ControllerConfig(poll_interval_s=30))

        # in the web handler of the webhook endpoint:
        try:
            inbox.receive(request.body, request.headers)
        except WebhookRefused:
            return 400
    """

    def __init__(self, client: Any, *, secret: str | None = None) -> None:
        if not callable(getattr(getattr(client, "webhooks", None), "unwrap", None)):
            raise TypeError("client must be an openai.OpenAI or openai.AsyncOpenAI client")
        self._client = client
        self._secret = secret
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._counts: Counter[str] = Counter()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        #: the deliveries refused, newest last (at most :data:`MAX_REFUSED`)
        self.refused: deque[RefusedWebhook] = deque(maxlen=MAX_REFUSED)
        #: how many deliveries were verified
        self.received = 0

    # -- the receiving side ---------------------------------------------------------------------

    def receive(self, body: bytes | str, headers: Mapping[str, str]) -> Any:
        """Verify one delivery and wake the drives waiting on its object.

        Returns:
            The SDK's event (``UnwrapWebhookEvent``: ``.type``, ``.data.id``...).

        Raises:
            WebhookRefused: it did not verify (recorded in :attr:`refused`).
        """
        try:
            event = self._client.webhooks.unwrap(body, headers, secret=self._secret)
        except Exception as exc:  # InvalidWebhookSignatureError, ValueError, a missing secret
            lowered = {k.lower(): v for k, v in headers.items()}
            reason = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
            refused = RefusedWebhook(time.time(), reason, lowered.get("webhook-id"))
            with self._lock:
                self.refused.append(refused)
            logger.warning("webhook refused", extra={"reason": reason})
            raise WebhookRefused(f"webhook refused: {reason}") from None
        object_id = getattr(getattr(event, "data", None), "id", None)
        with self._lock:
            self.received += 1
        if isinstance(object_id, str) and object_id:
            self.push(object_id)
        return event

    def push(self, object_id: str) -> None:
        """Count an event about ``object_id`` that is already verified, and wake its waiters."""
        with self._lock:
            self._counts[object_id] += 1
            self._changed.notify_all()
            waiters = list(self._waiters.get(object_id, ()))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def count(self, object_id: str) -> int:
        """How many events about ``object_id`` were counted."""
        with self._lock:
            return self._counts[object_id]

    # -- the waiting side -----------------------------------------------------------------------

    def wait(self, object_id: str, since: int, timeout: float) -> bool:
        """Block up to ``timeout`` seconds until an event about ``object_id`` arrives after the
        count ``since``; whether one did."""
        with self._changed:
            return self._changed.wait_for(lambda: self._counts[object_id] > since, timeout)

    async def wait_async(self, object_id: str, since: int, timeout: float) -> bool:
        """:meth:`wait` for the async controller (woken from any thread)."""
        event = asyncio.Event()
        entry = (asyncio.get_running_loop(), event)
        with self._lock:
            if self._counts[object_id] > since:
                return True
            self._waiters.setdefault(object_id, []).append(entry)
        try:
            with anyio.move_on_after(timeout):
                await event.wait()
        finally:
            with self._lock:
                waiting = self._waiters.get(object_id, [])
                if entry in waiting:
                    waiting.remove(entry)
                if not waiting:
                    self._waiters.pop(object_id, None)
        return self.count(object_id) > since

    def __repr__(self) -> str:
        return f"<WebhookInbox received={self.received} refused={len(self.refused)}>"
