"""Opening the gateway's SQLite database: WAL, foreign keys, zeroed free pages, migrations.

Migrations run once, when the database is first opened after an install or upgrade (the
service's start, ``init``, or a command that opens it); every other open only reads which
migrations are recorded, so opening a connection never waits for the write lock.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from gateway.store.errors import StoreError
from gateway.store.migrations import migrate, pending


def open_db(path: Path, *, shared: bool = False) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` with the schema up to date.

    Each thread opens its own connection; SQLite serializes writers. A ``shared`` connection
    may be used from several threads, one at a time (the caller holds a lock around each use).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                               check_same_thread=not shared)
        _use_wal(conn)
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA secure_delete=ON")
        conn.execute("PRAGMA synchronous=FULL")
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    db = sqlite_utils.Database(conn)
    if pending(db):  # a read: the write lock only when something is left to apply
        migrate(db)
    return db


def _use_wal(conn: sqlite3.Connection, timeout_s: float = 30.0) -> None:
    """Switch to write-ahead logging. Switching a new file needs it to itself, and SQLite
    answers "locked" at once (no busy wait) while another connection is setting it up."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return  # already (the setting lives in the file): nothing to lock
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
