"""Controller settings: poll interval, deadlines, retries, tool budget, streaming.

Every loop the controller runs is bounded by one of these deadlines. Deadlines per waiting state
are keyed by status (``RunStatus`` members); a state without an entry is bounded by the overall
deadline only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from lifecycle import RunStatus

__all__ = ["ControllerConfig", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The controller's one retry layer (the SDK's own retries are turned off).

    Full-jitter exponential backoff: attempt ``n`` waits ``uniform(0, min(cap, base * 2**n))``,
    or the server's ``retry-after-ms`` / ``retry-after`` when it sends one (capped at
    ``max_retry_after_s``).

    Attributes:
        max_attempts: attempts per call, the first one included.
        base_s: the backoff base, in seconds.
        cap_s: the largest backoff, in seconds.
        max_retry_after_s: the longest server-requested wait honoured.
        retry_statuses: HTTP statuses retried (5xx are always retried).
    """

    max_attempts: int = 5
    base_s: float = 0.25
    cap_s: float = 8.0
    max_retry_after_s: float = 60.0
    retry_statuses: frozenset[int] = frozenset({408, 409, 429})


def _default_deadlines() -> Mapping[str, float]:
    return {
        RunStatus.QUEUED: 120.0,
        RunStatus.IN_PROGRESS: 600.0,
        RunStatus.REQUIRES_ACTION: 600.0,
        RunStatus.CANCELLING: 60.0,
    }


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """How a :class:`RunController` polls, retries, runs tools and gives up.

    Attributes:
        poll_interval_s: the wait between polls when the server sends no
            ``openai-poll-after-ms`` header (the header wins on every poll when present).
        max_poll_interval_s: an upper bound on any header-requested poll interval.
        deadlines: seconds a run may stay in a status, keyed by status.
        overall_timeout_s: seconds the whole drive may take.
        cancel_on_timeout: when a deadline passes, cancel the run (then wait for the cancel
            within the ``cancelling`` deadline) instead of just returning.
        request_timeout_s: the HTTP timeout of one request.
        retry: the retry policy.
        max_concurrency: tool calls run at once in one round.
        tool_timeout_s: the most one tool call may take (further capped by the run's
            ``expires_at`` minus ``expiry_margin_s``).
        expiry_margin_s: the time kept in reserve before ``expires_at`` to submit outputs.
        stream_idle_timeout_s: a stream silent this long is dropped and polling takes over.
        fetch_messages: list the run's messages at the end for ``outcome.messages``.
        max_tool_rounds: tool rounds allowed per run; past it the run is cancelled and the
            outcome's ``deadline`` is ``"tool_round_limit"``.
    """

    poll_interval_s: float = 1.0
    max_poll_interval_s: float = 30.0
    deadlines: Mapping[str, float] = field(default_factory=_default_deadlines)
    overall_timeout_s: float = 900.0
    cancel_on_timeout: bool = True
    request_timeout_s: float = 60.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 8
    tool_timeout_s: float = 120.0
    expiry_margin_s: float = 15.0
    stream_idle_timeout_s: float = 30.0
    fetch_messages: bool = True
    max_tool_rounds: int = 20
