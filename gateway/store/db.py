"""Opening the gateway's SQLite database: WAL, foreign keys, zeroed free pages, migrations."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from gateway.store.errors import StoreError
from gateway.store.migrations import migrate


def open_db(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` with the schema up to date.

    Each thread opens its own connection; SQLite serializes writers.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        _use_wal(conn)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    db = sqlite_utils.Database(conn)
    migrate(db)
    return db


def _use_wal(conn: sqlite3.Connection, timeout_s: float = 30.0) -> None:
    """Switch to write-ahead logging. Switching a new file needs it to itself, and SQLite
    answers "locked" at once (no busy wait) while another connection is setting it up."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite_utils.Database]:
    """Run a block in one immediate transaction: commit on success, roll back and re-raise.

    Inside another transaction the block becomes a savepoint of it: its writes are undone on an
    error, and become durable only when the outer transaction commits.
    """
    if db.conn.in_transaction:
        db.execute("SAVEPOINT nested")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK TO nested")
            db.execute("RELEASE nested")
            raise
        db.execute("RELEASE nested")
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
