"""Whether the web UI's first-run wizard has been completed on this gateway."""

from __future__ import annotations

import time

import sqlite_utils

DONE_KEY = "setup_completed_at"


def setup_completed(db: sqlite_utils.Database) -> bool:
    """True once the installer went through the last step of the wizard."""
    row = db.execute("SELECT value FROM webui_state WHERE key = ?", [DONE_KEY]).fetchone()
    return row is not None


def mark_setup_completed(db: sqlite_utils.Database) -> None:
    """Record that the wizard is done (again: the newest time counts)."""
    db.execute("INSERT OR REPLACE INTO webui_state (key, value) VALUES (?, ?)",
               [DONE_KEY, str(time.time())])
