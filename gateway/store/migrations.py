"""Numbered schema migrations, applied in name order and recorded in the database.

Each migration is one SQL file in ``gateway/store/sql/`` named ``NNNN_<area>_<what>.sql``. To change
the schema, add a new file; never edit a file that may have been applied somewhere.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from importlib import resources

import sqlite_utils

log = logging.getLogger(__name__)


def load_migrations() -> list[tuple[str, str]]:
    """Every migration as (name, sql), in the order they apply."""
    folder = resources.files("gateway.store") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


MIGRATIONS: list[tuple[str, str]] = load_migrations()


def statements(script: str) -> Iterator[str]:
    """The SQL statements of a script, one at a time (a statement may span lines)."""
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            yield pending
            pending = ""
    if pending.strip():
        yield pending


def pending(db: sqlite_utils.Database) -> list[str]:
    """The migrations not yet recorded (read without taking the write lock)."""
    try:
        done = {row[0] for row in db.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        done = set()
    return [name for name, _ in MIGRATIONS if name not in done]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        try:
            # IMMEDIATE takes the write lock before looking: two connections opening a new
            # database at once (two threads of one process) apply each migration once
            db.execute("BEGIN IMMEDIATE")
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                db.execute("COMMIT")
                continue
            for statement in statements(sql):  # executescript would commit the lock away
                db.conn.execute(statement)
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, time.time()])
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        log.info("applied migration %s", name)
        applied.append(name)
    return applied
