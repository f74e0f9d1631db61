"""The controller's crash points: named places where a test makes the process "die".

::

    BaseException
    └─ CrashPoint       raised at a named point to simulate the process dying there

Crash points are injected at the seam between the kernel and the driver (a request about to be
sent, a reply about to be handed back), never inside the kernel's decisions.
"""

from __future__ import annotations

__all__ = ["CRASH_AFTER", "CRASH_POINTS", "CrashPoint"]

#: The named points where ``crash_at=...`` makes the controller "die" (raise :class:`CrashPoint`):
#: right after ``POST /runs`` returned (run id not saved yet), right after a tool round ran (its
#: ``finished`` effect records not written), right before the outputs are submitted (outputs
#: recorded; for a Responses chain, before its ``submitted`` effect records too), and right after
#: the submission returned (delivery not recorded).
CRASH_POINTS = frozenset(
    {"after_create_sent", "after_tool_effect", "before_submit", "after_submit_sent"}
)

#: The crash point reached when the answer to an operation comes back.
CRASH_AFTER = {"create": "after_create_sent", "submit": "after_submit_sent"}


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
