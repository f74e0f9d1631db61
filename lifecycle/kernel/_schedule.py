"""When to poll and when to retry: the poll schedule, server hints and the retry backoff.

Theory of operation
-------------------
The schedule follows what a careful client does and what the SDK's own pollers do:

* right after one of our own requests moved the run (create, submit, cancel), poll **at once**,
  unless that answer carried ``openai-poll-after-ms``;
* after a poll, wait what the poll's ``openai-poll-after-ms`` says; without one, the next time on
  a grid anchored at our last own request: a short growing backoff (``first_poll_backoff_s``,
  doubling) below ``poll_interval_s``, then every ``poll_interval_s`` (see
  :class:`PollSchedule`);
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
    """The wait before the next poll, from the last answer's hints and the time since our last
    own request.

    Without hints, polls fall on a grid anchored at our last own request (or the drive's start):
    at once, then after ``b``, ``2b``, ``4b``... (``b = first_poll_backoff_s``) while below
    ``poll_interval_s``, then on every multiple of ``poll_interval_s``. The grid holds every poll
    time of a client polling each ``poll_interval_s`` (the SDK's loop), so the drive never sees an
    end later than that client, and makes at most ``log2(poll_interval_s / b)`` more requests per
    phase between two of our requests (two with the defaults), in exchange for seeing short
    phases end much sooner.

    Args:
        config: the drive's settings.
        now: the drive's clock at the start (the first anchor).
    """

    __slots__ = ("_anchor", "_config", "_wait")

    def __init__(self, config: ControllerConfig, now: float = 0.0) -> None:
        self._config = config
        self._anchor = now
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

    def _grid(self, now: float) -> float:
        """The wait until the next grid time after ``now`` (a grid time just reached, within a
        microsecond, is behind us)."""
        cfg = self._config
        interval = cfg.poll_interval_s
        elapsed = max(now - self._anchor, 0.0)
        since = elapsed + 1e-6
        point = min(cfg.first_poll_backoff_s, interval)
        while point < interval:
            if point > since:
                break
            point *= 2.0
        else:
            point = (math.floor(since / interval) + 1) * interval
        return max(point - elapsed, cfg.min_poll_interval_s)

    def after_action(self, headers: Mapping[str, str], now: float) -> None:
        """Our own request (create, submit, cancel) was answered at ``now``: poll at once unless
        the answer says otherwise; the grid starts again from here."""
        self._anchor = now
        hint = self._hint(headers)
        self._wait = hint if hint is not None else 0.0

    def after_poll(self, headers: Mapping[str, str], now: float) -> None:
        """A poll was answered at ``now``: its hint, else the next grid time."""
        hint = self._hint(headers)
        self._wait = hint if hint is not None else self._grid(now)

    def after_failure(self, failure: Failure, now: float) -> None:
        """A poll failed for good: honour the server's retry-after, else the grid."""
        asked = retry_after(failure.headers, self._config.retry)
        if asked is not None:
            self._wait = max(asked, self._config.min_poll_interval_s)
            return
        self._wait = self._grid(now)
