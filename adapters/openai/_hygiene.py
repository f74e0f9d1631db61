"""Thread hygiene (I6): one live run per thread, and what an unfinished drive leaves behind.

The Assistants API refuses a second run on a thread while one is active. A controller keeps, per
thread, the run it follows or left unfinished (``cancel_unconfirmed``, ``abandoned``...) and the
store's view of pending runs and unknown creates, and refuses a new ``run()`` there without any
request (:class:`ThreadBusy`). It also keeps the lifecycle and ledger of a run left unfinished, so
a later ``drive()`` of that run continues with them and never runs a tool call again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from adapters.openai._outcome import RunOutcome
from adapters.store import RunStore, StoredRun
from lifecycle import ASSISTANTS_RUN
from lifecycle.kernel import EndingKind, ThreadBusy

__all__ = ["ThreadClaims"]

#: endings after which the server has no run to worry about
_GONE = frozenset({EndingKind.LOST_HANDLE, EndingKind.NOT_CREATED})


class ThreadClaims:
    """Per-thread claims of one controller, and the runs it left unfinished.

    Args:
        store: the controller's store (its pending runs and unknown creates count), or ``None``.
        wall_clock: epoch seconds, for the kept runs' ``updated_at``.
    """

    def __init__(self, store: RunStore | None, wall_clock: Callable[[], float]) -> None:
        self._store = store
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        # thread id -> (run id or "", why): runs this controller follows or left unfinished
        self._threads: dict[str, tuple[str, str]] = {}
        # run id -> what an unfinished drive left (lifecycle + ledger), for a later drive()
        self._kept: dict[str, StoredRun] = {}

    def reserve(self, thread_id: str) -> None:
        """Claim a thread for a new run, or raise: one active run per thread.

        Raises:
            ThreadBusy: this controller follows a run there, or left one there that did not end,
                or its store has one that is not terminal or a create there whose outcome is
                unknown (until ``recover()`` settles it).
        """
        with self._lock:
            known = self._threads.get(thread_id)
            if known is not None:
                raise ThreadBusy(thread_id, known[0] or None, known[1])
            store = self._store
            if store is not None:
                for stored in store.runs_of_thread(thread_id):
                    if not stored.terminal and stored.closed != "lost_handle":
                        why = stored.closed or "pending in the store"
                        raise ThreadBusy(thread_id, stored.run_id, f"{why}; recover() continues it")
                for intent in store.unbound_creates():
                    if intent.thread_id == thread_id:  # a create whose outcome is unknown
                        why = "a create whose outcome is unknown is in the store"
                        raise ThreadBusy(thread_id, None, f"{why}; recover() settles it")
            self._threads[thread_id] = ("", "being created")

    def claim(self, thread_id: str, run_id: str, why: str) -> None:
        """Mark a thread as worked on (recovery), unless it is already claimed."""
        with self._lock:
            self._threads.setdefault(thread_id, (run_id, why))

    def settle(self, thread_id: str, run_id: str, outcome: RunOutcome | None) -> None:
        """Release the thread when its run ended; keep it marked when the run may be active."""
        if outcome is not None:
            self.keep(outcome)
        with self._lock:
            if outcome is None:
                if run_id:
                    self._threads[thread_id] = (run_id, "the drive failed")
                else:
                    self._threads.pop(thread_id, None)  # nothing was created
                return
            ending = outcome.ending
            if ending.terminal or ending.kind in _GONE:
                self._threads.pop(thread_id, None)
                return
            reason = ending.kind.value
            if ending.kind is EndingKind.ABANDONED:
                reason = f"abandoned ({ending.detail})"
            elif ending.kind is EndingKind.DEADLINE:
                reason = "not terminal"
            self._threads[thread_id] = (run_id, reason)

    def release(self, thread_id: str, run_id: str) -> None:
        """A run on the thread was seen terminal (``drive``/``cancel``): forget it."""
        with self._lock:
            known = self._threads.get(thread_id)
            if known is not None and known[0] == run_id:
                self._threads.pop(thread_id, None)

    def keep(self, outcome: RunOutcome) -> None:
        """Remember the lifecycle and ledger of a run left unfinished (forget a finished one)."""
        with self._lock:
            if outcome.ending.terminal or outcome.status in ASSISTANTS_RUN.terminal_values:
                self._kept.pop(outcome.run_id, None)
                return
            snapshot = outcome.snapshot
            if outcome.ending.kind in _GONE or not outcome.run_id or snapshot is None:
                return
            self._kept[outcome.run_id] = StoredRun(
                run_id=outcome.run_id,
                thread_id=outcome.thread_id,
                op_id=None,
                snapshot=snapshot,
                ledger=outcome.ledger,
                terminal=False,
                closed=None,
                revision=0,
                updated_at=self._wall_clock(),
            )

    def kept(self, run_id: str) -> StoredRun | None:
        """What an unfinished drive of ``run_id`` left, if anything."""
        with self._lock:
            return self._kept.get(run_id)
