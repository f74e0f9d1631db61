"""Scriptable HTTP faults, applied per request by the simulator's ASGI layer.

A :class:`Fault` matches requests by method and path glob (``*`` is one path segment, ``**`` any
number) and fires on the ``nth`` match and up to ``times`` matches after it. What it does:

* ``status`` (e.g. 429 with ``retry-after`` / ``retry-after-ms`` headers, 500, 503): answer that
  status with an OpenAI-shaped error body instead of handling the request;
* ``latency``: wait that many (real) seconds first, then do the rest (alone: just slow);
* ``drop="before_response"``: close the connection without any response;
  ``drop="mid_body"``: send the headers and half the body, then close;
* ``cut_stream_after=N``: an SSE response is cut (connection closed) after N events;
  ``silent_stream_after=N``: an SSE response goes silent after N events (never ends);
* ``applied_then_fail``: handle the request for real (a submit, create or cancel *is* applied),
  then answer ``status`` (default 500) with ``"status"``, never answer with ``"hang"`` (the
  client times out), or close the connection with ``"drop"``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Fault", "FaultSet"]


@dataclass(frozen=True)
class Fault:
    """One scripted fault. See the module docstring for the meaning of each field.

    Attributes:
        method: HTTP method to match, or ``"*"``.
        path: path glob, e.g. ``"/v1/threads/*/runs/*"``.
        status: the HTTP status to answer with.
        headers: extra response headers (``retry-after``, ``retry-after-ms``, ...).
        times: how many matching requests it fires for (``None``: forever).
        nth: fire from the nth matching request on (1-based).
        latency: seconds to wait before anything else.
        drop: close the connection before the response or in the middle of the body.
        cut_stream_after: close an SSE stream after this many events.
        silent_stream_after: stop sending on an SSE stream after this many events.
        applied_then_fail: apply the request, then fail the response this way.
        message: the error message for ``status`` answers.
    """

    method: str = "*"
    path: str = "**"
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    times: int | None = 1
    nth: int = 1
    latency: float = 0.0
    drop: Literal["before_response", "mid_body"] | None = None
    cut_stream_after: int | None = None
    silent_stream_after: int | None = None
    applied_then_fail: Literal["status", "hang", "drop"] | None = None
    message: str | None = None

    def __post_init__(self) -> None:
        if self.nth < 1:
            raise ValueError("nth is 1-based")
        if self.times is not None and self.times < 1:
            raise ValueError("times must be positive (or None for always)")

    def matches(self, method: str, path: str) -> bool:
        """Whether a request's method and path match this fault."""
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        return _glob(self.path).fullmatch(path.rstrip("/") or "/") is not None

    def error_body(self) -> dict[str, dict[str, str | None]]:
        """The OpenAI-shaped error body for a ``status`` answer."""
        status = self.status or 500
        if status == 429:
            message, kind, code = (
                "Rate limit reached (simulated).",
                "requests",
                "rate_limit_exceeded",
            )
        else:
            message, kind, code = (
                "The server had an error while processing your request (simulated).",
                "server_error",
                None,
            )
        return {
            "error": {"message": self.message or message, "type": kind, "param": None, "code": code}
        }


def _glob(pattern: str) -> re.Pattern[str]:
    out = []
    for part in re.split(r"(\*\*|\*)", pattern.rstrip("/") or "/"):
        if part == "**":
            out.append(".*")
        elif part == "*":
            out.append("[^/]*")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out))


class FaultSet:
    """The active faults of a simulator; thread-safe. First added, first considered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._matched: dict[int, int] = {}
        self._fired: dict[int, int] = {}

    def add(self, fault: Fault) -> Fault:
        """Arm a fault and return it (pass it to :meth:`fired` later)."""
        with self._lock:
            self._faults.append(fault)
            self._matched[id(fault)] = 0
            self._fired[id(fault)] = 0
        return fault

    def remove(self, fault: Fault) -> None:
        """Disarm a fault."""
        with self._lock:
            self._faults = [f for f in self._faults if f is not fault]

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()

    def fired(self, fault: Fault) -> int:
        """How many requests the fault has fired on."""
        with self._lock:
            return self._fired.get(id(fault), 0)

    def take(self, method: str, path: str) -> Fault | None:
        """Return the fault to apply to this request, counting the match; ``None`` if none fires."""
        chosen: Fault | None = None
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                key = id(fault)
                self._matched[key] += 1
                if chosen is not None or self._matched[key] < fault.nth:
                    continue
                if fault.times is not None and self._fired[key] >= fault.times:
                    continue
                self._fired[key] += 1
                chosen = fault
        return chosen

    def __len__(self) -> int:
        with self._lock:
            return len(self._faults)
