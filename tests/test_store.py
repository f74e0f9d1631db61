"""The durable run store (``adapters.store.RunStore``): real SQLite files, crashes, concurrency."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from adapters.store import EffectPhase, RunStore, StoreError
from lifecycle import ASSISTANTS_RUN, CallState, RunLifecycle, ToolCall, ToolLedger

ROOT = Path(__file__).resolve().parents[1]


class FakeClock:
    """A settable clock for ``updated_at`` / ``at`` fields."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def _lifecycle_in_requires_action() -> tuple[RunLifecycle, ToolLedger]:
    lc = RunLifecycle()
    calls = [ToolCall("call_1", "add", '{"a": 1, "b": 2}'), ToolCall("call_2", "nope", "{}")]
    lc.observe("in_progress", at=1.0)
    lc.observe("requires_action", at=2.0, tool_calls=calls)
    ledger = ToolLedger()
    for call in calls:
        ledger.intend(call)
    assert ledger.claim("call_1")
    return lc, ledger


def _run_child(db: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = f"import os, signal, sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script, str(db)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_save_and_load_round_trip_lifecycle_and_ledger(tmp_path: Path) -> None:
    """A saved run loads back with the same snapshot, ledger, ids and a restorable lifecycle."""
    lc, ledger = _lifecycle_in_requires_action()
    with RunStore(tmp_path / "runs.db", clock=FakeClock()) as store:
        assert store.save("run_1", thread_id="thread_1", lifecycle=lc, ledger=ledger) == 1
    with RunStore(tmp_path / "runs.db") as store:
        stored = store.load("run_1")
    assert stored is not None
    assert stored.thread_id == "thread_1"
    assert stored.snapshot == lc.snapshot()
    assert stored.ledger.model_dump() == ledger.model_dump()
    assert stored.ledger.state_of("call_1") is CallState.STARTED
    assert not stored.terminal
    assert stored.state == "requires_action"
    restored = stored.restore()
    assert restored.state == lc.state
    assert restored.history == lc.history
    assert [c.id for c in restored.pending_tool_calls] == ["call_1", "call_2"]


def test_load_of_an_unknown_run_is_none(tmp_path: Path) -> None:
    """Loading a run id never saved returns None."""
    with RunStore(tmp_path / "runs.db") as store:
        assert store.load("run_missing") is None


def test_pending_lists_only_open_runs(tmp_path: Path) -> None:
    """pending() returns non-terminal, non-closed runs; terminal ones come from the table."""
    with RunStore(tmp_path / "runs.db", clock=FakeClock()) as store:
        for status in ASSISTANTS_RUN.states:
            lc = RunLifecycle()
            lc.observe(status, assume_client=True)
            store.save(f"run_{status}", thread_id="t", lifecycle=lc)
        store.close_run("run_cancelling", "cancel_unconfirmed")
        pending = {s.run_id for s in store.pending()}
        closed = store.load("run_cancelling")
    expected = {f"run_{s}" for s in ASSISTANTS_RUN.non_terminal if s != "cancelling"}
    assert pending == expected
    assert closed is not None
    assert closed.closed == "cancel_unconfirmed"


def test_save_increments_revision_and_keeps_op_id_and_closed(tmp_path: Path) -> None:
    """Re-saving replaces the row, bumps the revision and keeps op_id and closed."""
    lc = RunLifecycle()
    with RunStore(tmp_path / "runs.db", clock=FakeClock()) as store:
        assert store.save("run_1", thread_id="t", lifecycle=lc, op_id="op_1") == 1
        store.close_run("run_1", "lost_handle")
        lc.observe("in_progress")
        assert store.save("run_1", thread_id="t", lifecycle=lc) == 2
        stored = store.load("run_1")
        by_op = store.find_by_op("op_1")
    assert by_op is not None
    assert by_op.run_id == "run_1"
    assert stored is not None
    assert (stored.revision, stored.op_id, stored.closed) == (2, "op_1", "lost_handle")
    assert stored.state == "in_progress"


def test_a_run_cannot_move_to_another_thread(tmp_path: Path) -> None:
    """Saving a run id under a different thread id is refused and changes nothing."""
    with RunStore(tmp_path / "runs.db") as store:
        store.save("run_1", thread_id="t1", lifecycle=RunLifecycle())
        with pytest.raises(StoreError):
            store.save("run_1", thread_id="t2", lifecycle=RunLifecycle())
        stored = store.load("run_1")
    assert stored is not None
    assert stored.thread_id == "t1"


def test_close_run_of_an_unknown_run_raises(tmp_path: Path) -> None:
    """close_run on a run never saved raises KeyError."""
    with RunStore(tmp_path / "runs.db") as store, pytest.raises(KeyError):
        store.close_run("run_x", "lost_handle")


def test_create_intent_is_unbound_until_the_run_is_saved(tmp_path: Path) -> None:
    """begin_create records an intent; saving the run with its op_id binds it."""
    with RunStore(tmp_path / "runs.db", clock=FakeClock()) as store:
        store.begin_create("op_1", "thread_1")
        store.begin_create("op_2", "thread_2")
        assert [i.op_id for i in store.unbound_creates()] == ["op_1", "op_2"]
        store.save("run_1", thread_id="thread_1", lifecycle=RunLifecycle(), op_id="op_1")
        store.bind_create("op_2", "run_2")
        assert store.unbound_creates() == []
        intent = store.create_intent("op_1")
        with pytest.raises(StoreError):
            store.begin_create("op_1", "thread_1")
        with pytest.raises(KeyError):
            store.bind_create("op_missing", "run_x")
    assert intent is not None
    assert intent.run_id == "run_1"


def test_effects_are_append_only_and_gate_a_second_start(tmp_path: Path) -> None:
    """started then finished; a second started or a finished without start is refused."""
    with RunStore(tmp_path / "runs.db", clock=FakeClock()) as store:
        first = store.record_effect("run_1", "call_1", EffectPhase.STARTED)
        store.record_effect("run_1", "call_2", "started")
        with pytest.raises(StoreError):
            store.record_effect("run_1", "call_1", EffectPhase.STARTED)
        with pytest.raises(StoreError):
            store.record_effect("run_1", "call_3", EffectPhase.FINISHED)
        with pytest.raises(ValueError, match="bogus"):
            store.record_effect("run_1", "call_3", "bogus")
        last = store.record_effect("run_1", "call_1", EffectPhase.FINISHED, detail="ok")
        log = store.effects("run_1")
        unknown = store.unknown_effects("run_1")
    assert first.seq < last.seq
    assert [(e.tool_call_id, e.phase) for e in log] == [
        ("call_1", EffectPhase.STARTED),
        ("call_2", EffectPhase.STARTED),
        ("call_1", EffectPhase.FINISHED),
    ]
    assert unknown == ["call_2"]


def test_a_failing_write_is_rolled_back(tmp_path: Path) -> None:
    """An exception inside a transaction leaves the previous row intact."""
    with RunStore(tmp_path / "runs.db") as store:
        store.save("run_1", thread_id="t", lifecycle=RunLifecycle())

        def crash_inside_transaction() -> None:
            with store._tx() as conn:
                conn.execute("UPDATE runs SET state = 'completed' WHERE run_id = 'run_1'")
                raise RuntimeError("crash inside the transaction")

        with pytest.raises(RuntimeError):
            crash_inside_transaction()
        stored = store.load("run_1")
    assert stored is not None
    assert stored.state == "queued"


def test_a_connection_closed_without_commit_loses_only_its_write(tmp_path: Path) -> None:
    """Another connection that began a write and closed without COMMIT changes nothing."""
    db = tmp_path / "runs.db"
    with RunStore(db) as store:
        store.save("run_1", thread_id="t", lifecycle=RunLifecycle())
    raw = sqlite3.connect(db, isolation_level=None)
    raw.execute("BEGIN IMMEDIATE")
    raw.execute("UPDATE runs SET terminal = 1, state = 'completed'")
    raw.execute(
        "INSERT INTO effects (run_id, tool_call_id, phase, at) VALUES ('r','c','started',0)"
    )
    raw.close()  # no COMMIT
    with RunStore(db) as store:
        stored = store.load("run_1")
        assert store.effects() == []
        assert [s.run_id for s in store.pending()] == ["run_1"]
    assert stored is not None
    assert stored.state == "queued"


def test_a_process_killed_mid_transaction_leaves_the_last_committed_state(tmp_path: Path) -> None:
    """SIGKILL inside an open write transaction: reopening shows the last committed state."""
    db = tmp_path / "runs.db"
    child = _run_child(
        db,
        """
        from adapters.store import RunStore, EffectPhase
        from lifecycle import RunLifecycle
        store = RunStore(sys.argv[1])
        lc = RunLifecycle()
        lc.observe("in_progress")
        store.save("run_1", thread_id="t", lifecycle=lc, op_id="op_1")
        store.record_effect("run_1", "call_1", EffectPhase.STARTED)
        lc.observe("completed")
        with store._tx() as conn:
            conn.execute("UPDATE runs SET terminal = 1, state = 'completed'")
            os.kill(os.getpid(), signal.SIGKILL)
        """,
    )
    assert child.returncode == -9, child.stderr
    with RunStore(db) as store:
        stored = store.load("run_1")
        pending = [s.run_id for s in store.pending()]
        unknown = store.unknown_effects("run_1")
    assert stored is not None
    assert stored.state == "in_progress"
    assert pending == ["run_1"]
    assert unknown == ["call_1"]  # the side effect may have happened: never re-run blindly


def test_a_process_killed_between_started_and_finished_is_an_unknown_effect(
    tmp_path: Path,
) -> None:
    """A tool that performed its effect but died before 'finished' shows as an unknown effect."""
    db = tmp_path / "runs.db"
    effect_file = tmp_path / "effect.txt"
    child = _run_child(
        db,
        f"""
        from adapters.store import RunStore, EffectPhase
        store = RunStore(sys.argv[1])
        store.record_effect("run_1", "call_done", EffectPhase.STARTED)
        store.record_effect("run_1", "call_done", EffectPhase.FINISHED, detail="ok")
        store.record_effect("run_1", "call_crash", EffectPhase.STARTED)
        with open({str(effect_file)!r}, "a") as f:
            f.write("charged\\n")  # the side effect
        os.kill(os.getpid(), signal.SIGKILL)  # crash before 'finished'
        """,
    )
    assert child.returncode == -9, child.stderr
    assert effect_file.read_text() == "charged\n"
    with RunStore(db) as store:
        assert store.unknown_effects("run_1") == ["call_crash"]
        with pytest.raises(StoreError):  # the gate: it can never be started again
            store.record_effect("run_1", "call_crash", EffectPhase.STARTED)


def test_concurrent_threads_share_one_store(tmp_path: Path) -> None:
    """8 threads saving runs and effects through one store: nothing lost, seqs unique."""
    errors: list[BaseException] = []
    with RunStore(tmp_path / "runs.db") as store:

        def worker(n: int) -> None:
            try:
                for i in range(20):
                    lc = RunLifecycle()
                    lc.observe("in_progress")
                    store.save(f"run_{n}_{i}", thread_id=f"t{n}", lifecycle=lc)
                    store.record_effect(f"run_{n}_{i}", "call", EffectPhase.STARTED)
                    store.record_effect(f"run_{n}_{i}", "call", EffectPhase.FINISHED)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        effects = store.effects()
        pending = store.pending()
    assert errors == []
    assert len(pending) == 160
    assert len(effects) == 320
    assert len({e.seq for e in effects}) == 320


def test_concurrent_processes_write_the_same_file(tmp_path: Path) -> None:
    """Two processes and this one write the same file at once (WAL, busy timeout): all kept."""
    db = tmp_path / "runs.db"
    RunStore(db).close()  # create the schema once
    body = """
        from adapters.store import RunStore, EffectPhase
        from lifecycle import RunLifecycle
        who = sys.argv[2]
        with RunStore(sys.argv[1]) as store:
            for i in range(40):
                store.save(f"run_{who}_{i}", thread_id=who, lifecycle=RunLifecycle())
                store.record_effect(f"run_{who}_{i}", "call", EffectPhase.STARTED)
        """
    script = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + textwrap.dedent(body)
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(db), who], stderr=subprocess.PIPE)
        for who in ("a", "b")
    ]
    with RunStore(db) as store:
        for i in range(40):
            store.save(f"run_main_{i}", thread_id="main", lifecycle=RunLifecycle())
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    with RunStore(db) as store:
        assert len(store.pending()) == 120
        assert len(store.effects()) == 80
        assert {s.thread_id for s in store.pending()} == {"a", "b", "main"}


def test_a_closed_store_refuses_use_and_stored_data_has_no_secrets(tmp_path: Path) -> None:
    """After close() every call raises StoreError; the file holds no client or key."""
    store = RunStore(tmp_path / "runs.db")
    lc, ledger = _lifecycle_in_requires_action()
    store.save("run_1", thread_id="t", lifecycle=lc, ledger=ledger)
    store.close()
    store.close()  # idempotent
    assert "closed" in repr(store)
    with pytest.raises(StoreError):
        store.load("run_1")
    raw = (tmp_path / "runs.db").read_bytes() + (
        (tmp_path / "runs.db-wal").read_bytes() if (tmp_path / "runs.db-wal").exists() else b""
    )
    assert b"sk-" not in raw
    assert b"Authorization" not in raw


def test_a_file_from_another_schema_version_is_refused(tmp_path: Path) -> None:
    """A store file with a different schema version raises StoreError on open."""
    db = tmp_path / "runs.db"
    RunStore(db).close()
    raw = sqlite3.connect(db)
    raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError, match="schema version 99"):
        RunStore(db)


def test_wal_mode_is_on(tmp_path: Path) -> None:
    """The store uses the WAL journal (concurrent readers, crash-safe commits)."""
    with RunStore(tmp_path / "runs.db") as store:
        mode = store._read("PRAGMA journal_mode")[0][0]
    assert mode == "wal"
    assert os.path.exists(tmp_path / "runs.db")
