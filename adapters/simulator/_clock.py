"""Clocks for the simulator: the wall clock, and a manual clock that tests move by hand.

The simulator never sleeps to make time pass. Every request reads the clock and computes how far
each run has progressed (see ``_engine.py``), so a :class:`ManualClock` makes a whole session
deterministic: nothing happens until the test calls :meth:`ManualClock.advance`.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "system_clock"]


class Clock(Protocol):
    """Anything callable that returns the current time in seconds (like ``time.time``)."""

    def __call__(self) -> float:
        """Return the current time, in seconds since the epoch."""
        ...


def system_clock() -> float:
    """The wall clock: ``time.time()``."""
    return time.time()


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    Args:
        start: the initial time in seconds (default: a fixed, realistic epoch value).
        autoadvance: seconds to add each time an open SSE stream finds nothing new to send.
            ``0`` (the default) means a stream waits until another thread calls :meth:`advance`;
            a positive value lets a stream consumed from the test thread make progress alone.
    """

    def __init__(self, start: float = 1_700_000_000.0, *, autoadvance: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.autoadvance = autoadvance

    def __call__(self) -> float:
        """Return the current manual time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward.

        Args:
            seconds: how far to move; must not be negative.

        Returns:
            The new time.

        Raises:
            ValueError: if ``seconds`` is negative.
        """
        if seconds < 0:
            raise ValueError("a ManualClock never goes backwards")
        with self._changed:
            self._now += seconds
            self._changed.notify_all()
            return self._now

    def set(self, now: float) -> None:
        """Jump to an absolute time, which must not be earlier than the current one.

        Raises:
            ValueError: if ``now`` is in the past.
        """
        with self._changed:
            if now < self._now:
                raise ValueError("a ManualClock never goes backwards")
            self._now = now
            self._changed.notify_all()

    def __repr__(self) -> str:
        return f"ManualClock(now={self():.3f})"
