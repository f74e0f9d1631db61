"""A person's decision about an unknown effect, kept in the run store so ``recover()`` honours it.

Theory of operation
-------------------
After a crash between a tool's ``started`` record and its ``finished`` one, nobody knows whether
the side effect happened: ``recover()`` never runs the call again and the run stays ``held``
until a person decides (:meth:`lifecycle.ToolLedger.settle`). The decision must reach both
things ``recover()`` reads, in one transaction:

* the run's **ledger** (in its ``runs`` row): the call moves out of ``unknown_effect``, to
  ``finished`` with the output the person gives (*delivered*: the effect happened and returned
  this), to ``failed`` with an error output (*failed*), or back to ``intended`` (*run again*: it
  never happened);
* the **effect log**: *delivered* and *failed* append the missing ``finished`` record (detail
  ``settled:done`` / ``settled:failed``), so the call is no longer an unknown effect; *run
  again* takes the call's records out of the log (the call's next attempt writes its own
  ``started``, which the at-most-once gate would refuse otherwise) and keeps them, with the
  decision, in the ``settlements`` table.

``recover()`` then restores the ledger and reads the log as for any run: a call with a recorded
output has it submitted and is never run; a call with no output and no ``started`` record may
run, once. Every decision is kept in ``settlements`` (run, call, decision, time, and for *run
again* the records it took out of the log), never the output itself.

A call can be settled when the ledger says ``unknown_effect`` or, before any ``recover()`` has
looked at the run, when the log says ``started`` without ``finished`` and the ledger holds no
output for it (what ``recover()`` would mark unknown). A finished or closed run cannot be
settled.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from adapters._store_records import StoredRun, StoreError, stored_run
from lifecycle import CallState, ToolOutput

if TYPE_CHECKING:
    from adapters.store import RunStore

__all__ = ["DECISIONS", "Decision", "Settlement", "all_runs", "settle", "settlements"]

Decision = Literal["done", "failed", "run_again"]
#: the decisions :meth:`lifecycle.ToolLedger.settle` takes
DECISIONS: tuple[Decision, ...] = ("done", "failed", "run_again")

_RUN_COLUMNS = "run_id, thread_id, op_id, snapshot, ledger, terminal, closed, revision, updated_at"


@dataclass(frozen=True, slots=True)
class Settlement:
    """One decision about an unknown effect, as kept in the store.

    Attributes:
        seq: its sequence number.
        run_id: the run.
        tool_call_id: the call.
        decision: ``done``, ``failed`` or ``run_again``.
        at: the store clock's time of the decision.
        voided: for ``run_again``, how many effect records it took out of the log.
    """

    seq: int
    run_id: str
    tool_call_id: str
    decision: str
    at: float
    voided: int = 0


def _phases(c: sqlite3.Connection, run_id: str, call_id: str) -> set[str]:
    rows = c.execute(
        "SELECT phase FROM effects WHERE run_id = ? AND tool_call_id = ?", (run_id, call_id)
    )
    return {r[0] for r in rows}


def settle(
    store: RunStore, run_id: str, call_id: str, decision: Decision, output: str | None = None
) -> StoredRun:
    """Record a person's decision about the unknown effect of ``call_id`` (see the module).

    Args:
        store: the run store.
        run_id: the run.
        call_id: the tool call whose effect is unknown.
        decision: ``done`` (it happened; ``output`` is what it returned, submitted by the next
            ``recover()``), ``failed`` (``output``, or a default error output, is submitted) or
            ``run_again`` (it never happened; the next ``recover()`` runs it, once).
        output: the output text (required for ``done``).

    Returns:
        The run as saved with the settled ledger.

    Raises:
        KeyError: no such run, or no such call in its ledger.
        StoreError: the run is finished or closed, or the call's effect is not unknown.
        ValueError: an unknown decision, or ``done`` without an output.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if decision == "done" and output is None:
        raise ValueError("a call settled done needs the output its effect returned")
    now = store._clock()
    with store._tx() as c:
        row = c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise KeyError(run_id)
        stored = stored_run(row)
        if stored.terminal or stored.closed is not None:
            why = f"closed ({stored.closed})" if stored.closed is not None else "finished"
            raise StoreError(f"run {run_id} is {why}: recover() will not resume it")
        ledger = stored.ledger
        entry = ledger.entries.get(call_id)
        if entry is None:
            raise KeyError(call_id)
        phases = _phases(c, run_id, call_id)
        open_in_log = "started" in phases and "finished" not in phases
        if entry.state is not CallState.UNKNOWN_EFFECT:
            if entry.output is not None or not open_in_log:
                raise StoreError(
                    f"call {call_id} is {entry.state.value}: its effect is not unknown"
                )
            ledger.mark_unknown(call_id)  # what recover() would conclude from the log
        settled = None if output is None else ToolOutput(call_id, output, output)
        if settled is not None and decision == "failed":
            settled = ToolOutput(call_id, output or "", output or "", error="tool_error")
        ledger.settle(call_id, decision, settled)
        c.execute(
            "UPDATE runs SET ledger = ?, revision = revision + 1, updated_at = ? WHERE run_id = ?",
            (ledger.model_dump_json(), now, run_id),
        )
        voided: list[tuple[object, ...]] = []
        if decision == "run_again":
            voided = c.execute(
                "SELECT seq, phase, at, detail FROM effects WHERE run_id = ? AND tool_call_id = ? "
                "ORDER BY seq",
                (run_id, call_id),
            ).fetchall()
            c.execute(
                "DELETE FROM effects WHERE run_id = ? AND tool_call_id = ?", (run_id, call_id)
            )
        elif open_in_log:
            c.execute(
                "INSERT INTO effects (run_id, tool_call_id, phase, at, detail) "
                "VALUES (?, ?, 'finished', ?, ?)",
                (run_id, call_id, now, f"settled:{decision}"),
            )
        c.execute(
            "INSERT INTO settlements (run_id, tool_call_id, decision, at, voided) "
            "VALUES (?, ?, ?, ?, ?)",
            (run_id, call_id, decision, now, json.dumps([list(r) for r in voided])),
        )
        saved = c.execute(f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return stored_run(saved)


def settlements(store: RunStore, run_id: str | None = None) -> list[Settlement]:
    """The decisions recorded (for one run, or all), oldest first."""
    sql = "SELECT seq, run_id, tool_call_id, decision, at, voided FROM settlements"
    rows = (
        store._read(sql + " WHERE run_id = ? ORDER BY seq", (run_id,))
        if run_id is not None
        else store._read(sql + " ORDER BY seq")
    )
    return [Settlement(r[0], r[1], r[2], r[3], r[4], len(json.loads(r[5]))) for r in rows]


def all_runs(store: RunStore) -> list[StoredRun]:
    """Every saved run, finished ones included, oldest save first."""
    rows = store._read(f"SELECT {_RUN_COLUMNS} FROM runs ORDER BY updated_at, run_id")
    return [stored_run(r) for r in rows]
