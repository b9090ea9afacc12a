"""The durable outbox in the gateway's SQLite database: sealed envelopes wait here until the
upstream broker acknowledged them."""

from __future__ import annotations

import time

import sqlite_utils

from gateway.sync.outbox import OutboxItem


class SqliteOutbox:
    """Envelopes persisted before anything is acknowledged; one row per idempotency key."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, *, idempotency_key: str, topic: str, payload: bytes,
            conversation_id: str | None = None) -> bool:
        """Persist an envelope; returns False if that key was already queued."""
        cursor = self.db.execute(
            "INSERT OR IGNORE INTO outbox (idempotency_key, conversation_id, topic, payload, "
            "created_at) VALUES (?, ?, ?, ?, ?)",
            [idempotency_key, conversation_id, topic, payload, time.time()])
        return cursor.rowcount == 1

    def pending(self, limit: int) -> list[OutboxItem]:
        rows = self.db.execute(
            "SELECT id, topic, payload FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ?",
            [limit]).fetchall()
        return [OutboxItem(r[0], r[1], bytes(r[2])) for r in rows]

    def mark_sent(self, item_id: int) -> None:
        self.db.execute("UPDATE outbox SET sent_at = ? WHERE id = ?", [time.time(), item_id])

    def backlog(self) -> int:
        return int(self.db.execute(
            "SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
