"""Numbered schema migrations, applied in name order and recorded in the database.

Each migration is one SQL file in ``gateway/store/sql/`` named ``NNNN_<area>_<what>.sql``. To change
the schema, add a new file; never edit a file that may have been applied somewhere.
"""

from __future__ import annotations

import logging
import time
from importlib import resources

import sqlite_utils

log = logging.getLogger(__name__)


def load_migrations() -> list[tuple[str, str]]:
    """Every migration as (name, sql), in the order they apply."""
    folder = resources.files("gateway.store") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [(f.name.removesuffix(".sql"), f.read_text(encoding="utf-8")) for f in files]


MIGRATIONS: list[tuple[str, str]] = load_migrations()


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        try:
            db.conn.executescript(f"BEGIN;\n{sql}")
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, time.time()])
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        log.info("applied migration %s", name)
        applied.append(name)
    return applied
