"""A durable run store: lifecycle snapshots, tool ledgers and an effect log in SQLite.

Theory of operation
-------------------
A controller that can crash must be able to answer three questions on restart: which runs were
still open, what each run's lifecycle and tool ledger looked like, and which tool side effects
may already have happened. :class:`RunStore` keeps exactly that, in one SQLite file (stdlib
``sqlite3``, WAL journal, ``synchronous=FULL``):

* ``runs``: one row per run id: thread id, the ``op_id`` the run was created with (its
  ``metadata.op_id``, so an unknown create can be found again), the lifecycle snapshot
  (:meth:`lifecycle.RunLifecycle.snapshot` as JSON), the tool ledger (``ToolLedger`` JSON),
  whether the lifecycle state is terminal (derived from the table, never typed out), and a
  ``closed`` reason for runs the controller stopped following without a terminal status
  (``cancel_unconfirmed``, ``lost_handle``, ...).
* ``creates``: one row per create *intent*, written before ``POST /runs`` is sent and bound to
  the run id once it is known. An intent with no run id after a crash is a create whose outcome
  is unknown: reconcile it by listing the thread's runs for the ``op_id``.
* ``effects``: append-only. A tool call is recorded ``started`` *before* its side effect and
  ``finished`` *after* it, each in its own committed transaction. A call with ``started`` but no
  ``finished`` after a restart has an unknown effect: a non-idempotent tool must not run again,
  until a person decides (:meth:`RunStore.settle`, kept in ``settlements``; see
  ``_store_settle.py``).

Every write is one ``BEGIN IMMEDIATE`` ... ``COMMIT`` transaction, so a crash leaves either the
old row or the new one, never half of each. One store may be shared by threads (a lock serialises
its connection); several stores (or processes) may open the same file (WAL, busy timeout).

Nothing secret is stored: snapshots and ledgers hold statuses, tool names, arguments and outputs,
never a client, a key or a header.

This module is the store's public face and its operations (:class:`RunStore`); the tables and
the connection settings are in ``_store_schema.py``, the values it hands back
(:class:`StoredRun`, :class:`CreateIntent`, :class:`EffectRecord`) and :class:`StoreError` in
``_store_records.py``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from adapters._store_records import (
    CreateIntent,
    EffectPhase,
    EffectRecord,
    StoredRun,
    StoreError,
    is_terminal,
    stored_run,
)
from adapters._store_schema import SCHEMA_VERSION as SCHEMA_VERSION
from adapters._store_schema import connect, install_schema
from adapters._store_settle import Decision, Settlement, all_runs, settle, settlements
from lifecycle import LifecycleSnapshot, RunLifecycle, ToolLedger

__all__ = [
    "SUPERSEDED",
    "CreateIntent",
    "EffectPhase",
    "EffectRecord",
    "RunStore",
    "Settlement",
    "StoreError",
    "StoredRun",
]

#: The ``closed`` reason of a chain's response once the next response of the chain is saved.
SUPERSEDED = "superseded"


class RunStore:
    """Durable snapshots of runs, create intents and the tool effect log, in one SQLite file.

    Args:
        path: the database file (created if missing). ``":memory:"`` works but is not durable.
        clock: returns the time in seconds for ``updated_at``/``at`` fields (default
            ``time.time``); inject a fake one in tests.
        busy_timeout_s: how long a write waits for another connection's lock.

    Raises:
        StoreError: the file was written by another schema version.

    Example::

        with RunStore("runs.db") as store:
            store.save(run_id, thread_id=tid, lifecycle=lc, ledger=ledger)
            for stored in store.pending():
                lc = stored.restore()
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], float] | None = None,
        busy_timeout_s: float = 10.0,
    ) -> None:
        self.path = str(path)
        self._clock = clock if clock is not None else time.time
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path, busy_timeout_s)
        with self._tx() as c:
            install_schema(c, self.path)

    # -- plumbing ------------------------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("the store is closed")
        return self._conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any exception."""
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection (idempotent). Committed data stays; nothing is half-written."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<RunStore {self.path!r} {'closed' if self._conn is None else 'open'}>"

    # -- runs ----------------------------------------------------------------------------------

    def save(
        self,
        run_id: str,
        *,
        thread_id: str,
        lifecycle: RunLifecycle | LifecycleSnapshot,
        ledger: ToolLedger | None = None,
        op_id: str | None = None,
        supersedes: str | None = None,
    ) -> int:
        """Save (insert or replace) a run's snapshot and ledger in one transaction.

        When ``op_id`` is given, the matching create intent (if any) is bound to ``run_id`` in the
        same transaction, so "create intent without run id" and "run saved" never both hold.

        Args:
            run_id: the run.
            thread_id: its thread.
            lifecycle: the lifecycle (its :meth:`~lifecycle.RunLifecycle.snapshot` is taken) or a
                snapshot.
            ledger: the tool ledger (an empty one when omitted).
            op_id: the ``metadata.op_id`` the run was created with; kept from an earlier save
                when omitted.
            supersedes: the run this one continues (a Responses chain's previous response):
                closed as ``superseded`` in the same transaction, so exactly one row of a
                chain is ever pending.

        Returns:
            The new revision number (1 for the first save).

        Raises:
            StoreError: the run id is saved under another thread id.
        """
        snapshot = lifecycle.snapshot() if isinstance(lifecycle, RunLifecycle) else lifecycle
        ledger_json = (ledger if ledger is not None else ToolLedger()).model_dump_json()
        terminal = is_terminal(snapshot)
        now = self._clock()
        with self._tx() as c:
            row = c.execute(
                "SELECT thread_id, op_id, revision FROM runs WHERE run_id = ?", (run_id,)
            ).fetchone()
            if row is not None and row[0] != thread_id:
                raise StoreError(f"run {run_id} belongs to thread {row[0]}, not {thread_id}")
            revision = 1 if row is None else row[2] + 1
            op = op_id if op_id is not None else (row[1] if row is not None else None)
            c.execute(
                "INSERT OR REPLACE INTO runs (run_id, thread_id, op_id, lifecycle, state, "
                "terminal, closed, snapshot, ledger, revision, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, "
                "(SELECT closed FROM runs WHERE run_id = ?), ?, ?, ?, ?)",
                (
                    run_id,
                    thread_id,
                    op,
                    snapshot.lifecycle,
                    snapshot.state,
                    int(terminal),
                    run_id,
                    snapshot.model_dump_json(),
                    ledger_json,
                    revision,
                    now,
                ),
            )
            if op is not None:
                c.execute(
                    "UPDATE creates SET run_id = ? WHERE op_id = ? AND run_id IS NULL",
                    (run_id, op),
                )
            if supersedes is not None and supersedes != run_id:
                c.execute(
                    "UPDATE runs SET closed = ? WHERE run_id = ? AND closed IS NULL",
                    (SUPERSEDED, supersedes),
                )
        return revision

    def load(self, run_id: str) -> StoredRun | None:
        """The run as last saved, or ``None`` if it was never saved."""
        rows = self._read(
            "SELECT run_id, thread_id, op_id, snapshot, ledger, terminal, closed, revision, "
            "updated_at FROM runs WHERE run_id = ?",
            (run_id,),
        )
        return stored_run(rows[0]) if rows else None

    def pending(self) -> list[StoredRun]:
        """Runs to reconcile on restart: not terminal and not closed, oldest save first."""
        rows = self._read(
            "SELECT run_id, thread_id, op_id, snapshot, ledger, terminal, closed, revision, "
            "updated_at FROM runs WHERE terminal = 0 AND closed IS NULL "
            "ORDER BY updated_at, run_id"
        )
        return [stored_run(r) for r in rows]

    def runs_of_thread(self, thread_id: str) -> list[StoredRun]:
        """Every saved run of a thread, oldest save first."""
        rows = self._read(
            "SELECT run_id, thread_id, op_id, snapshot, ledger, terminal, closed, revision, "
            "updated_at FROM runs WHERE thread_id = ? ORDER BY updated_at, run_id",
            (thread_id,),
        )
        return [stored_run(r) for r in rows]

    def find_by_op(self, op_id: str) -> StoredRun | None:
        """The run saved with this ``op_id``, if any."""
        rows = self._read(
            "SELECT run_id, thread_id, op_id, snapshot, ledger, terminal, closed, revision, "
            "updated_at FROM runs WHERE op_id = ?",
            (op_id,),
        )
        return stored_run(rows[0]) if rows else None

    def close_run(self, run_id: str, reason: str) -> None:
        """Stop reporting a non-terminal run as pending (``cancel_unconfirmed``, ``lost_handle``).

        Raises:
            KeyError: the run was never saved.
        """
        with self._tx() as c:
            cur = c.execute("UPDATE runs SET closed = ? WHERE run_id = ?", (reason, run_id))
            if cur.rowcount == 0:
                raise KeyError(run_id)

    # -- create intents ------------------------------------------------------------------------

    def begin_create(self, op_id: str, thread_id: str) -> None:
        """Record, before sending it, that a run is about to be created with ``op_id``.

        Raises:
            StoreError: the op id was already used.
        """
        with self._tx() as c:
            try:
                c.execute(
                    "INSERT INTO creates (op_id, thread_id, run_id, created_at) "
                    "VALUES (?, ?, NULL, ?)",
                    (op_id, thread_id, self._clock()),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreError(f"op_id {op_id!r} was already used") from exc

    def bind_create(self, op_id: str, run_id: str) -> None:
        """Record the run id a create produced (``save(..., op_id=...)`` does this too).

        Raises:
            KeyError: no intent with this op id.
        """
        with self._tx() as c:
            cur = c.execute("UPDATE creates SET run_id = ? WHERE op_id = ?", (run_id, op_id))
            if cur.rowcount == 0:
                raise KeyError(op_id)

    def unbound_creates(self) -> list[CreateIntent]:
        """Create intents with no run id: creates whose outcome is unknown after a crash."""
        rows = self._read(
            "SELECT op_id, thread_id, run_id, created_at FROM creates WHERE run_id IS NULL "
            "ORDER BY created_at, op_id"
        )
        return [CreateIntent(*r) for r in rows]

    def create_intent(self, op_id: str) -> CreateIntent | None:
        """The create intent recorded under ``op_id``, or ``None``."""
        rows = self._read(
            "SELECT op_id, thread_id, run_id, created_at FROM creates WHERE op_id = ?", (op_id,)
        )
        return CreateIntent(*rows[0]) if rows else None

    # -- the effect log ------------------------------------------------------------------------

    def record_effect(
        self, run_id: str, tool_call_id: str, phase: EffectPhase | str, *, detail: str = ""
    ) -> EffectRecord:
        """Append (and commit) one effect record; call with ``started`` before the side effect.

        Args:
            run_id: the run.
            tool_call_id: the call.
            phase: ``started`` (before the effect), ``finished`` (after it) or ``submitted``
                (before a submit carrying its output, where a lost submit cannot be checked).
            detail: a short note; keep outputs and secrets out of it.

        Returns:
            The record written.

        Raises:
            StoreError: ``started`` twice for one call (the at-most-once gate), or ``finished``
                without ``started``.
            ValueError: ``phase`` is not an :class:`EffectPhase` value.
        """
        kind = EffectPhase(phase)
        at = self._clock()
        with self._tx() as c:
            phases = {
                r[0]
                for r in c.execute(
                    "SELECT phase FROM effects WHERE run_id = ? AND tool_call_id = ?",
                    (run_id, tool_call_id),
                )
            }
            if kind in phases:
                raise StoreError(f"{tool_call_id}: effect already recorded {kind.value}")
            if kind is EffectPhase.FINISHED and EffectPhase.STARTED not in phases:
                raise StoreError(f"{tool_call_id}: finished recorded before started")
            cur = c.execute(
                "INSERT INTO effects (run_id, tool_call_id, phase, at, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, tool_call_id, kind.value, at, detail[:200]),
            )
            seq = cur.lastrowid
        assert seq is not None
        return EffectRecord(seq, run_id, tool_call_id, kind, at, detail[:200])

    def effects(self, run_id: str | None = None) -> list[EffectRecord]:
        """The effect log (of one run, or all), in commit order."""
        sql = "SELECT seq, run_id, tool_call_id, phase, at, detail FROM effects"
        rows = (
            self._read(sql + " WHERE run_id = ? ORDER BY seq", (run_id,))
            if run_id is not None
            else self._read(sql + " ORDER BY seq")
        )
        return [EffectRecord(r[0], r[1], r[2], EffectPhase(r[3]), r[4], r[5]) for r in rows]

    def unknown_effects(self, run_id: str) -> list[str]:
        """Call ids ``started`` but never ``finished``: their side effect may or may not exist."""
        rows = self._read(
            "SELECT tool_call_id FROM effects WHERE run_id = ? GROUP BY tool_call_id "
            "HAVING SUM(phase = 'started') = 1 AND SUM(phase = 'finished') = 0 ORDER BY MIN(seq)",
            (run_id,),
        )
        return [r[0] for r in rows]

    # -- a person's decisions ------------------------------------------------------------------

    def runs(self) -> list[StoredRun]:
        """Every saved run, finished and closed ones included, oldest save first."""
        return all_runs(self)

    def settle(
        self, run_id: str, call_id: str, decision: Decision, output: str | None = None
    ) -> StoredRun:
        """Record a person's decision about a call whose effect is unknown, in the ledger and
        the effect log at once, so the next ``recover()`` honours it: ``"done"`` (it happened:
        ``output`` is submitted, the tool never runs), ``"failed"`` (``output`` or a default
        error output is submitted) or ``"run_again"`` (it never happened: the tool runs once).

        Returns:
            The run as saved.

        Raises:
            KeyError: no such run or call.
            StoreError: the run is finished or closed, or the call's effect is not unknown.
            ValueError: another decision, or ``"done"`` without an output.
        """
        return settle(self, run_id, call_id, decision, output)

    def settlements(self, run_id: str | None = None) -> list[Settlement]:
        """The decisions recorded by :meth:`settle` (for one run, or all), oldest first."""
        return settlements(self, run_id)
