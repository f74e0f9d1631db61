"""When to poll and when to retry: the poll schedule, server hints and the retry backoff.

Theory of operation
-------------------
The schedule follows what a careful client does and what the SDK's own pollers do:

* right after one of our own requests moved the run (create, submit, cancel), poll **at once**,
  unless that answer carried ``openai-poll-after-ms``;
* after a poll, wait what the poll's ``openai-poll-after-ms`` says; without one, a short growing
  backoff (``first_poll_backoff_s``, doubling up to ``poll_interval_s``) that starts again at
  every status change;
* after a poll that failed for good, wait what the failure's ``retry-after-ms``/``retry-after``
  says (a 429 is the server asking for room), else go on with the schedule.

Every value a server sends is clamped: a header that is not a finite number (``nan``, ``abc``) is
ignored, one below or above the configured bounds is clamped to them, so no header can make the
drive spin or sleep for a day. Nothing here reads a clock: the caller passes the times in.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping

from lifecycle.kernel._config import ControllerConfig, RetryPolicy
from lifecycle.kernel._messages import Failure

__all__ = ["PollSchedule", "header_seconds", "retry_after", "retry_delay"]


def header_seconds(value: str | None, scale: float, low: float, high: float) -> float | None:
    """Read a numeric header as seconds, clamped to ``[low, high]``; ``None`` if unusable.

    Args:
        value: the raw header text, or ``None`` when absent.
        scale: what one second is in the header's unit (1000 for milliseconds).
        low: the smallest value returned.
        high: the largest value returned.
    """
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if math.isnan(number):
        return None
    return min(max(number / scale, low), high)


def retry_after(headers: Mapping[str, str], policy: RetryPolicy) -> float | None:
    """The server's requested wait (``retry-after-ms``, then ``retry-after``), or ``None``."""
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        seconds = header_seconds(headers.get(name), scale, 0.0, policy.max_retry_after_s)
        if seconds is not None:
            return seconds
    return None


def retry_delay(
    failure: Failure | None, attempt: int, policy: RetryPolicy, rng: random.Random
) -> float:
    """How long to wait before attempt ``attempt + 1``: the server's word, else full jitter."""
    if failure is not None:
        asked = retry_after(failure.headers, policy)
        if asked is not None:
            return asked
    return rng.uniform(0.0, min(policy.cap_s, policy.base_s * 2**attempt))


class PollSchedule:
    """The wait before the next poll, from the last answer's hints.

    Args:
        config: the drive's settings.
    """

    __slots__ = ("_config", "_next_backoff", "_wait")

    def __init__(self, config: ControllerConfig) -> None:
        self._config = config
        self._next_backoff = config.first_poll_backoff_s
        self._wait = 0.0

    @property
    def wait(self) -> float:
        """The wait before the next poll, as decided by the last answer."""
        return self._wait

    def _hint(self, headers: Mapping[str, str]) -> float | None:
        cfg = self._config
        return header_seconds(
            headers.get("openai-poll-after-ms"),
            1000.0,
            cfg.min_poll_interval_s,
            cfg.max_poll_interval_s,
        )

    def after_action(self, headers: Mapping[str, str]) -> None:
        """Our own request (create, submit, cancel) was answered: poll at once unless told."""
        self._next_backoff = self._config.first_poll_backoff_s
        hint = self._hint(headers)
        self._wait = hint if hint is not None else 0.0

    def after_poll(self, headers: Mapping[str, str], *, changed: bool) -> None:
        """A poll was answered; ``changed`` says whether the status moved."""
        cfg = self._config
        if changed:
            self._next_backoff = cfg.first_poll_backoff_s
        hint = self._hint(headers)
        if hint is not None:
            self._wait = hint
            return
        self._wait = max(min(self._next_backoff, cfg.poll_interval_s), cfg.min_poll_interval_s)
        self._next_backoff = min(self._next_backoff * 2.0, cfg.poll_interval_s)

    def after_failure(self, failure: Failure) -> None:
        """A poll failed for good: honour the server's retry-after, else keep the backoff."""
        asked = retry_after(failure.headers, self._config.retry)
        if asked is not None:
            self._wait = max(asked, self._config.min_poll_interval_s)
            return
        self.after_poll({}, changed=False)
