"""The one retry layer: how a request is sent, retried, and when it must not be resent.

The SDK's own retries are off; every request goes through :func:`call`. What may be retried: no
answer, a 5xx, or a listed status (408, 409, 429 by default), after the server's ``retry-after``
or a full-jitter backoff, and never past the drive's next deadline. What must not be resent: a
mutating request (create, submit, cancel) whose outcome is unknown (no answer, a 5xx) raises
:class:`OutcomeUnknown` for its caller to read the object first.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lifecycle.kernel._binding import Binding, Flow, Observation
from lifecycle.kernel._config import RetryPolicy
from lifecycle.kernel._errors import CallFailed, DeadlineReached, OutcomeUnknown
from lifecycle.kernel._messages import ApiCall, Failure, FailureKind, HttpRequest, HttpResponse
from lifecycle.kernel._schedule import retry_delay

if TYPE_CHECKING:
    from lifecycle.kernel._drive import Drive

__all__ = ["call", "parse", "retryable"]


def retryable(policy: RetryPolicy, failure: Failure) -> bool:
    """Whether a failed request may be sent again: no answer, a 5xx, or a listed status."""
    if failure.kind is FailureKind.STATUS:
        status = failure.status or 0
        return status >= 500 or status in policy.retry_statuses
    return failure.kind in (FailureKind.TIMEOUT, FailureKind.CONNECTION)


def call(
    d: Drive, op: str, http: HttpRequest, *, mutating: bool = False, attempts: int | None = None
) -> Flow:
    """Send a request, retrying what may be retried (at most ``attempts`` times, the retry
    policy's by default). Returns an :class:`HttpResponse` (or a :class:`StreamOpened`).

    A mutating request whose outcome is unknown (no answer, a 5xx, a 2xx with a body that is
    not the API's) is never resent here: :class:`OutcomeUnknown` tells the caller to read
    first. Waits never outlast the next deadline.

    Raises:
        CallFailed: not retryable, or out of attempts (or of time before the run existed).
        OutcomeUnknown: a mutating request may have been applied.
        DeadlineReached: a deadline passed while waiting to retry (the run exists).
    """
    policy = d.config.retry
    limit = attempts if attempts is not None else policy.max_attempts
    attempt = 0
    while True:
        d.requests += 1
        reply = yield from d.ask(ApiCall(op, http, mutating))
        failure = reply.failure
        if failure is None:
            value = reply.value
            if http.stream and isinstance(value, HttpResponse):
                yield from d.stream_failed("the server answered a stream request with JSON")
            return value
        if not retryable(policy, failure):
            raise CallFailed(op, failure)
        if mutating and failure.outcome_unknown:
            yield from d.note(logging.WARNING, "outcome unknown", op=op, error=failure.reason)
            raise OutcomeUnknown(op, failure)
        attempt += 1
        if attempt >= limit:
            raise CallFailed(op, failure)
        delay = retry_delay(failure, attempt, policy, d.rng)
        yield from d.note(logging.INFO, "retry", op=op, error=failure.reason, delay_s=delay)
        try:
            yield from d.sleep(delay)
        except DeadlineReached:
            if not d.run_id:
                raise CallFailed(op, failure) from None
            raise


def parse(binding: Binding, response: Any) -> Observation:
    """Parse an object answer; a body that is not the API's object raises ``CallFailed``."""
    if not isinstance(response, HttpResponse):
        raise CallFailed("parse", Failure(FailureKind.MALFORMED, message="not a response"))
    parsed = binding.parse(response.body)
    if isinstance(parsed, Failure):
        raise CallFailed("parse", parsed)
    return parsed
