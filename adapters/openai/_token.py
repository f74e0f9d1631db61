"""The caller's cancel request: a thread-safe flag set while a run is being driven."""

from __future__ import annotations

import threading

__all__ = ["CancelToken"]


class CancelToken:
    """A thread-safe "please cancel" flag a caller sets while a run is being driven.

    The drive checks it before each step: it never dispatches tools or submits outputs after the
    token is set, and sends one cancel request.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask for the run to be cancelled."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether :meth:`cancel` was called."""
        return self._event.is_set()
