"""The kernel's exceptions: the public ones, and the control flow inside a drive.

::

    LifecycleError
    ├─ ThreadBusy      a run is (or may be) active on the thread; nothing was created
    └─ CallFailed      an API request failed for good before the run existed
       (also raised inside a drive, where the drive turns it into its ending)
"""

from __future__ import annotations

from lifecycle.errors import LifecycleError
from lifecycle.kernel._ending import Ending
from lifecycle.kernel._messages import Failure

__all__ = ["CallFailed", "DeadlineReached", "OutcomeUnknown", "Stop", "ThreadBusy"]


class ThreadBusy(LifecycleError):
    """A run is, or may still be, active on the thread: no run was created.

    Raised without any request when the controller knows a run on the thread that did not end
    (e.g. ``cancel_unconfirmed``), and after the server refused a create because of an active
    run that the ``on_active_run`` policy does not resolve.

    Attributes:
        thread_id: the thread.
        run_id: the active (or unconfirmed) run, when known.
        reason: why it counts as active (``cancel_unconfirmed``, ``active on the server``, ...).
    """

    def __init__(self, thread_id: str, run_id: str | None, reason: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.reason = reason
        super().__init__(
            f"thread {thread_id} has an active run {run_id or '(unknown)'} ({reason}); "
            "no run was created"
        )


class CallFailed(LifecycleError):
    """An API request failed for good (not retryable, or out of retries or time).

    Attributes:
        op: the operation.
        failure: the converted failure (its ``cause`` is the driver's original exception).
    """

    def __init__(self, op: str, failure: Failure) -> None:
        super().__init__(f"{op} failed: {failure.reason} {failure.message}".rstrip())
        self.op = op
        self.failure = failure


class OutcomeUnknown(CallFailed):
    """A mutating request may or may not have been applied: read before deciding anything."""


class Stop(Exception):
    """End the drive now with ``ending``."""

    def __init__(self, ending: Ending) -> None:
        super().__init__(str(ending))
        self.ending = ending


class DeadlineReached(Exception):
    """A wait was cut short by a deadline; the drive's loop decides what follows."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name
