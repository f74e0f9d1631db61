"""The poll schedule without a server: the kernel's real :class:`PollSchedule` against the SDK's
loop, over phases longer than the end-to-end scenarios have.

A *phase* is what follows one of our own requests (a create or a submit): the run is ``queued``
for ``q`` seconds, then ``in_progress`` for ``w`` seconds, then needs the client (it requires
action or has ended). The server sends no ``openai-poll-after-ms`` and requests take no time, so
the numbers isolate the schedule: how many polls it takes to see the end of the phase, and when
it sees it.

* ``sdk``: the SDK's ``poll()`` with its default settings: poll at once, then every 1 s;
* ``first_poll_backoff_s=b``: the kernel's :class:`lifecycle.kernel._schedule.PollSchedule` (the
  real class, fed the times and changes it would see), with that setting;
* ``proposed (grid, b)``: the grid this benchmark proposed and the kernel now follows (with
  ``b = 0.25`` by default), computed here from its definition as a cross-check: poll at once
  after our own request, then at ``b, 2b, 4b, ...`` after it while that is below
  ``poll_interval_s``, then on the SDK's own grid (every ``poll_interval_s`` after the request);
  a status change seen by a poll does not restart it. Its poll times contain the SDK's, so it
  never sees an end later than the SDK's loop, and it makes at most ``log2(interval / b)`` more
  polls per phase (2 for ``b = 0.25``).

No schedule that polls sooner than the SDK's loop after the first poll can make fewer polls than
the SDK for *every* phase length: for an end just before 1 s the SDK needs 2 polls, so a
schedule's second poll must come at 1 s or later to match it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "MODEL_PHASES",
    "WHAT_IF_BACKOFFS",
    "format_model",
    "proposed_poll_times",
    "schedule_model",
]

#: ``first_poll_backoff_s`` values measured by ``bench_e2e --what-if`` (the default is 0.05)
WHAT_IF_BACKOFFS: tuple[float, ...] = (0.1, 0.25, 1.0)
#: ``(queued s, in progress s)`` per modelled phase
MODEL_PHASES: tuple[tuple[float, float], ...] = (
    (0.05, 0.1),
    (0.1, 0.5),
    (0.2, 1.0),
    (0.5, 1.5),
    (0.2, 3.0),
    (0.5, 8.0),
)
SDK_INTERVAL_S = 1.0
PROPOSED_BACKOFF_S = 0.25

Changes = Sequence[tuple[float, str]]


def _status_at(changes: Changes, t: float) -> str:
    status = changes[0][1]
    for at, s in changes:
        if at <= t:
            status = s
    return status


def sdk_polls(changes: Changes, interval: float = SDK_INTERVAL_S) -> tuple[int, float]:
    """The SDK's ``poll()`` without a header: ``(polls, time the end was seen)``."""
    end = changes[-1][0]
    t, polls = 0.0, 1
    while t < end:
        t += interval
        polls += 1
    return polls, t


def kernel_polls(changes: Changes, config: Any) -> tuple[int, float]:
    """The kernel's :class:`PollSchedule` after one of our requests, without a header."""
    from lifecycle.kernel._schedule import PollSchedule

    schedule = PollSchedule(config, 0.0)
    schedule.after_action({}, 0.0)
    end = changes[-1][0]
    t, polls = 0.0, 0
    while True:
        t += schedule.wait
        polls += 1
        if t >= end:
            return polls, t
        schedule.after_poll({}, t)


def proposed_poll_times(backoff: float, interval: float, until: float) -> list[float]:
    """The proposed schedule's poll times after our own request, up to the first at ``until``
    or later: ``0``, then ``backoff * 2**k`` below ``interval``, then multiples of ``interval``."""
    times = [0.0]
    t = backoff
    while t < interval and times[-1] < until:
        times.append(t)
        t *= 2
    k = 1
    while times[-1] < until:
        times.append(k * interval)
        k += 1
    return times


def proposed_polls(
    changes: Changes, backoff: float = PROPOSED_BACKOFF_S, interval: float = SDK_INTERVAL_S
) -> tuple[int, float]:
    """The proposed schedule: ``(polls, time the end was seen)``."""
    times = proposed_poll_times(backoff, interval, changes[-1][0])
    return len(times), times[-1]


def schedule_model(backoffs: Sequence[float] = (0.05, *WHAT_IF_BACKOFFS)) -> dict[str, Any]:
    """Polls per phase and when its end is seen: SDK loop, the kernel's schedule with each
    ``first_poll_backoff_s`` in ``backoffs`` (0.25 is the default), and the proposed one."""
    from lifecycle.kernel import ControllerConfig

    rows = []
    for queued, working in MODEL_PHASES:
        changes = [(0.0, "queued"), (queued, "in_progress"), (queued + working, "end")]
        base_polls, base_seen = sdk_polls(changes)
        row: dict[str, Any] = {
            "queued_s": queued,
            "in_progress_s": working,
            "sdk": {"polls": base_polls, "seen_after_s": base_seen},
        }
        results = {
            f"first_poll_backoff_s={b:g}": kernel_polls(
                changes, ControllerConfig(first_poll_backoff_s=b)
            )
            for b in backoffs
        }
        results[f"proposed (grid, {PROPOSED_BACKOFF_S:g})"] = proposed_polls(changes)
        for key, (polls, seen) in results.items():
            row[key] = {
                "polls": polls,
                "seen_after_s": seen,
                "polls_ratio": polls / base_polls,
                "seen_ratio": seen / base_seen,
            }
        rows.append(row)
    return {
        "what": "one phase after a create or submit; no header; requests take no time",
        "phases": rows,
    }


def format_model(model: dict[str, Any]) -> str:
    """Markdown: polls / time seen per phase, for the SDK and each schedule."""
    keys = [k for k in model["phases"][0] if k not in ("queued_s", "in_progress_s", "sdk")]
    lines = [
        "| queued s + in progress s | sdk polls / seen s | "
        + " | ".join(k.replace("first_poll_backoff_s=", "kernel b0=") for k in keys)
        + " |",
        "| --- | ---: |" + " ---: |" * len(keys),
    ]
    for row in model["phases"]:
        cells = [f"{row[k]['polls']} / {row[k]['seen_after_s']:.2f}" for k in keys]
        sdk = row["sdk"]
        lines.append(
            f"| {row['queued_s']:g} + {row['in_progress_s']:g} | "
            f"{sdk['polls']} / {sdk['seen_after_s']:.2f} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)
