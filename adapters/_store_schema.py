"""The run store's SQLite file: its tables, its connection settings and its schema version.

Theory of operation
-------------------
One file holds five tables: ``meta`` (the schema version), ``runs`` (one row per run: snapshot,
ledger, terminal flag, ``closed`` reason, revision), ``creates`` (one row per create intent),
``effects`` (the append-only effect log) and ``settlements`` (a person's decisions about unknown
effects, see ``_store_settle.py``; a table added within schema version 1: a file without it gets
it when opened, and code that predates it never reads it). :func:`connect` opens the file the
way every store needs it: autocommit (each write opens its own ``BEGIN IMMEDIATE``), usable
from several threads (the store serialises its connection with a lock), a busy timeout for other
connections' locks, the WAL journal and ``synchronous=FULL`` (a committed write survives a
crash). :func:`install_schema` creates what is missing and refuses a file written by another
schema version (:data:`SCHEMA_VERSION`); it runs inside the store's first write transaction.
"""

from __future__ import annotations

import sqlite3

from adapters._store_records import StoreError

__all__ = ["SCHEMA", "SCHEMA_VERSION", "connect", "install_schema"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    op_id TEXT,
    lifecycle TEXT NOT NULL,
    state TEXT NOT NULL,
    terminal INTEGER NOT NULL,
    closed TEXT,
    snapshot TEXT NOT NULL,
    ledger TEXT NOT NULL,
    revision INTEGER NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_open ON runs (terminal, closed);
CREATE INDEX IF NOT EXISTS runs_op ON runs (op_id);
CREATE TABLE IF NOT EXISTS creates (
    op_id TEXT PRIMARY KEY,
    thread_id TEXT NOT NULL,
    run_id TEXT,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS effects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    phase TEXT NOT NULL,
    at REAL NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS effects_run ON effects (run_id, tool_call_id);
CREATE TABLE IF NOT EXISTS settlements (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    tool_call_id TEXT NOT NULL,
    decision TEXT NOT NULL,
    at REAL NOT NULL,
    voided TEXT NOT NULL DEFAULT '[]'
);
"""


def connect(path: str, busy_timeout_s: float) -> sqlite3.Connection:
    """Open (or create) the store file with the store's settings."""
    conn = sqlite3.connect(
        path,
        timeout=busy_timeout_s,
        isolation_level=None,  # autocommit; every write opens its own BEGIN IMMEDIATE
        check_same_thread=False,
    )
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


def install_schema(c: sqlite3.Connection, path: str) -> None:
    """Create the missing tables and check the schema version (inside a write transaction).

    Raises:
        StoreError: the file was written by another schema version.
    """
    for statement in SCHEMA.split(";"):
        if statement.strip():
            c.execute(statement)
    row = c.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    if row is None:
        c.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
    elif row[0] != str(SCHEMA_VERSION):
        raise StoreError(f"{path}: schema version {row[0]}, expected {SCHEMA_VERSION}")
