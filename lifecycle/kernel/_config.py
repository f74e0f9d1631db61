"""The drive's settings: poll schedule, deadlines, retries, tool budget, streaming.

Every loop a drive runs is bounded by one of these deadlines, and every sleep it asks for is cut
short at the next deadline. Deadlines per waiting status are keyed by the status string; a status
without an entry is bounded by the overall deadline only. The defaults are the Assistants run's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from lifecycle._status import RunStatus

__all__ = ["ControllerConfig", "RetryPolicy"]


def _check_positive(owner: object, *names: str, allow_zero: bool = False) -> None:
    for name in names:
        value = getattr(owner, name)
        ok = isinstance(value, int | float) and not math.isnan(value)
        ok = ok and (value >= 0 if allow_zero else value > 0)
        if not ok:
            bound = ">= 0" if allow_zero else "> 0"
            raise ValueError(
                f"{type(owner).__name__}.{name} must be a number {bound}, not {value!r}"
            )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """The drive's one retry layer (the SDK's own retries are turned off).

    Full-jitter exponential backoff: attempt ``n`` waits ``uniform(0, min(cap, base * 2**n))``,
    or the server's ``retry-after-ms`` / ``retry-after`` when it sends one (capped at
    ``max_retry_after_s``). A wait never outlasts the drive's next deadline.

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

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ValueError(
                f"RetryPolicy.max_attempts must be an int >= 1, not {self.max_attempts!r}"
            )
        _check_positive(self, "base_s", "cap_s", "max_retry_after_s", allow_zero=True)


def _default_deadlines() -> Mapping[str, float]:
    return {
        RunStatus.QUEUED: 120.0,
        RunStatus.IN_PROGRESS: 600.0,
        RunStatus.REQUIRES_ACTION: 600.0,
        RunStatus.CANCELLING: 60.0,
    }


@dataclass(frozen=True, slots=True)
class ControllerConfig:
    """How a drive polls, retries, runs tools and gives up.

    Attributes:
        poll_interval_s: the longest wait between polls when the server sends no
            ``openai-poll-after-ms`` header. Without a header, polls fall on a grid anchored at
            our last own request (create, submit, cancel): at once, after
            ``first_poll_backoff_s``, doubling while below this value, then on every multiple of
            it (every poll time of a client that polls each ``poll_interval_s`` is on the grid).
        first_poll_backoff_s: the first step of that grid. The first poll after a create or a
            submit happens at once unless that answer carried a poll-after header.
        min_poll_interval_s: the shortest wait between polls, whatever a header says.
        max_poll_interval_s: the longest wait between polls, whatever a header says. A header
            that is not a finite number (``nan``, ``abc``) is ignored; one below or above the
            bounds is clamped to them.
        deadlines: seconds a run may stay in a status, keyed by status.
        overall_timeout_s: seconds the whole drive may take.
        cancel_on_timeout: when a deadline passes, cancel the run (then wait for the cancel
            within the ``cancelling`` deadline) instead of just returning.
        request_timeout_s: the HTTP timeout of one request.
        retry: the retry policy.
        max_concurrency: tool calls run at once in one round.
        tool_timeout_s: the most one tool round may take (further capped by the run's
            ``expires_at`` minus ``expiry_margin_s``).
        expiry_margin_s: the time kept in reserve before ``expires_at`` to submit outputs.
        stream_idle_timeout_s: a stream silent this long is dropped and polling takes over.
        fetch_messages: list the run's messages at the end for ``outcome.messages``.
        max_tool_rounds: tool rounds allowed per run; past it the run is cancelled and the
            drive ends with the ``tool_round_limit`` deadline.
        interrupt_cancel_s: when the task or thread driving a run is interrupted (an asyncio
            task cancelled, ``KeyboardInterrupt``), the controller sends one cancel for the run,
            shielded, and waits at most this long for it before re-raising.
    """

    poll_interval_s: float = 1.0
    first_poll_backoff_s: float = 0.25
    min_poll_interval_s: float = 0.005
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
    interrupt_cancel_s: float = 10.0

    def __post_init__(self) -> None:
        _check_positive(
            self,
            "poll_interval_s",
            "first_poll_backoff_s",
            "max_poll_interval_s",
            "overall_timeout_s",
            "request_timeout_s",
            "tool_timeout_s",
            "stream_idle_timeout_s",
        )
        _check_positive(
            self, "min_poll_interval_s", "expiry_margin_s", "interrupt_cancel_s", allow_zero=True
        )
        if self.min_poll_interval_s > self.max_poll_interval_s:
            raise ValueError("ControllerConfig.min_poll_interval_s exceeds max_poll_interval_s")
        for name in ("max_concurrency", "max_tool_rounds"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"ControllerConfig.{name} must be an int >= 1, not {value!r}")
        for status, seconds in self.deadlines.items():
            if not isinstance(seconds, int | float) or math.isnan(seconds) or seconds <= 0:
                raise ValueError(
                    f"ControllerConfig.deadlines[{status!r}] must be > 0, not {seconds!r}"
                )
        if not isinstance(self.retry, RetryPolicy):
            raise TypeError("ControllerConfig.retry must be a RetryPolicy")

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """Every setting's name (for error messages that list them)."""
        return tuple(f.name for f in fields(cls))
