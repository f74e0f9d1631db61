"""The controller's own exceptions: a busy thread, and the named crash points used by tests.

::

    LifecycleError
    └─ ThreadBusy       a run is (or may be) active on the thread; nothing was created
    BaseException
    └─ CrashPoint       raised at a named point to simulate the process dying there
"""

from __future__ import annotations

from typing import Literal

from lifecycle import LifecycleError

__all__ = ["CRASH_POINTS", "ActiveRunPolicy", "CrashPoint", "ThreadBusy"]

#: The named points where ``crash_at=...`` makes the controller "die" (raise :class:`CrashPoint`):
#: right after ``POST /runs`` returned (run id not saved yet), right after a tool round ran (its
#: ``finished`` effect records not written), right before the outputs are submitted (outputs
#: recorded), and right after the submission returned (delivery not recorded).
CRASH_POINTS = frozenset(
    {"after_create_sent", "after_tool_effect", "before_submit", "after_submit_sent"}
)

#: What ``run()`` does about a foreign active run on the thread: cancel it and wait for it to end,
#: adopt it (drive it to its end as this call's run), or fail with :class:`ThreadBusy`.
ActiveRunPolicy = Literal["cancel", "adopt", "fail"]


class CrashPoint(BaseException):
    """Raised at a named crash point (``crash_at=``): the process "dies" here.

    A ``BaseException``, so no ``except Exception`` on the way out catches it: nothing after the
    crash point runs, exactly as if the process had been killed.

    Attributes:
        point: the crash point's name (one of :data:`CRASH_POINTS`).
    """

    def __init__(self, point: str) -> None:
        super().__init__(f"crash point {point!r} reached")
        self.point = point


class ThreadBusy(LifecycleError):
    """A run is, or may still be, active on the thread: no run was created.

    Raised by ``run()`` without any request when this controller knows a run on the thread that
    did not end (e.g. ``cancel_unconfirmed``), and after the server refused a create because of
    an active run that the ``on_active_run`` policy does not resolve.

    Attributes:
        thread_id: the thread.
        run_id: the active (or unconfirmed) run, when known.
        reason: why it counts as active (``cancel_unconfirmed``, ``server``, ...).
    """

    def __init__(self, thread_id: str, run_id: str | None, reason: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.reason = reason
        super().__init__(
            f"thread {thread_id} has an active run {run_id or '(unknown)'} ({reason}); "
            "no run was created"
        )
