"""Server-side login sessions: the cookie holds a random token, the database only its hash.

Logging out, a password reset or a role change ends sessions at once; idle sessions expire.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlite_utils


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Session:
    """A logged-in (or setup-code-unlocked) browser session."""

    token_hash: str
    user_id: int | None
    csrf: str
    created_at: float
    last_seen: float
    setup: bool


class Sessions:
    """Create, look up (sliding idle expiry) and end sessions."""

    def __init__(self, db: sqlite_utils.Database, *, idle_s: float = 3600,
                 absolute_s: float = 12 * 3600, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self.clock = clock

    def start(self, user_id: int | None, *, setup: bool = False) -> tuple[str, Session]:
        """A new session; returns the cookie token (shown once) and the session."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(_digest(token), user_id, secrets.token_urlsafe(32), now, now, setup)
        self.db.execute(
            "INSERT INTO web_sessions (token_hash, user_id, csrf, created_at, last_seen, setup) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [session.token_hash, user_id, session.csrf, now, now, int(setup)])
        return token, session

    def get(self, token: str) -> Session | None:
        """The live session for a cookie token, refreshing its idle timer; None if expired."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        row = self.db.execute(
            "SELECT token_hash, user_id, csrf, created_at, last_seen, setup FROM web_sessions "
            "WHERE token_hash = ?", [_digest(token)]).fetchone()
        if row is None:
            return None
        session = Session(row[0], row[1], row[2], row[3], row[4], bool(row[5]))
        if now - session.last_seen > self.idle_s or now - session.created_at > self.absolute_s:
            self.end(token)
            return None
        if now - session.last_seen > 30:
            self.db.execute("UPDATE web_sessions SET last_seen = ? WHERE token_hash = ?",
                            [now, session.token_hash])
        return session

    def end(self, token: str) -> None:
        self.db.execute("DELETE FROM web_sessions WHERE token_hash = ?", [_digest(token)])

    def purge_expired(self) -> int:
        now = self.clock()
        cursor = self.db.execute(
            "DELETE FROM web_sessions WHERE last_seen < ? OR created_at < ?",
            [now - self.idle_s, now - self.absolute_s])
        return cursor.rowcount
