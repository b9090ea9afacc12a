"""The durable outbox in the gateway's SQLite database: sealed envelopes wait here until the
upstream broker acknowledged them.

Every write commits with ``synchronous=FULL`` before the caller goes on, so an envelope is on disk
before anything that depends on it is acknowledged. Items leave in insertion order; at most one
item per conversation is in flight at a time, so a conversation's envelopes reach HQ in order.
Pending bytes are capped by a quota (the ``outbox_usage`` row, kept by triggers): past it, adding
raises :class:`OutboxFullError` and the caller keeps its data and retries later. A sent item keeps
only its key (its payload is cleared) until :meth:`SqliteOutbox.prune` removes it.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlite_utils

from gateway.errors import GatewayError
from gateway.sync.egress import DEFAULT_MAX_ENVELOPE_BYTES
from gateway.sync.outbox import OutboxItem

log = logging.getLogger(__name__)

DEFAULT_QUOTA_BYTES = 256 * 1024 * 1024
DEFAULT_WARN_FRACTION = 0.8
FULL_FRACTION = 0.95


class OutboxFullError(GatewayError):
    """The outbox reached its disk quota (or the disk is full); nothing was added."""


@dataclass(frozen=True, slots=True)
class OutboxUsage:
    """How full the outbox is; ``level`` is ``ok``, ``warning`` (past the warn fraction) or
    ``full`` (past :data:`FULL_FRACTION`: producers hold back)."""

    pending: int
    pending_bytes: int
    quota_bytes: int
    warn_fraction: float

    @property
    def fraction(self) -> float:
        return self.pending_bytes / self.quota_bytes if self.quota_bytes else 0.0

    @property
    def level(self) -> str:
        if self.fraction >= FULL_FRACTION:
            return "full"
        return "warning" if self.fraction >= self.warn_fraction else "ok"


@contextmanager
def _atomic(db: sqlite_utils.Database) -> Iterator[None]:
    """One immediate transaction, or a savepoint inside the caller's open transaction (so a
    caller can, say, delete data and queue the deletion notice atomically)."""
    nested = db.conn.in_transaction
    db.execute("SAVEPOINT outbox_add" if nested else "BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if nested:
            db.execute("ROLLBACK TO outbox_add")
            db.execute("RELEASE outbox_add")
        elif db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("RELEASE outbox_add" if nested else "COMMIT")


class SqliteOutbox:
    """Envelopes persisted before anything is acknowledged; one row per outbox key."""

    def __init__(self, db: sqlite_utils.Database, *, quota_bytes: int = DEFAULT_QUOTA_BYTES,
                 warn_fraction: float = DEFAULT_WARN_FRACTION,
                 max_envelope_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES) -> None:
        self.db = db
        self.quota_bytes = quota_bytes
        self.warn_fraction = warn_fraction
        self.max_envelope_bytes = max_envelope_bytes
        db.execute("PRAGMA synchronous=FULL")

    def add(self, *, idempotency_key: str, topic: str, payload: bytes,
            conversation_id: str | None = None) -> bool:
        """Persist an envelope; returns False if that key was already queued."""
        return self.add_many([(idempotency_key, payload)], topic=topic,
                             conversation_id=conversation_id)

    def add_many(self, rows: Iterable[tuple[str, bytes]], *, topic: str,
                 conversation_id: str | None = None) -> bool:
        """Persist ``(key, payload)`` rows in one transaction; False if every key was queued.

        Raises OutboxFullError (adding nothing) if the rows would take the pending bytes past
        the quota, or SQLite reports the disk full.
        """
        return self.add_batches([(list(rows), conversation_id)], topic=topic) > 0

    def add_batches(self, batches: Sequence[tuple[Sequence[tuple[str, bytes]], str | None]], *,
                    topic: str) -> int:
        """Persist several envelopes' rows (each with its conversation id) in one transaction;
        returns how many envelopes had at least one new row. All or nothing."""
        size = sum(len(payload) for rows, _ in batches for _, payload in rows)
        now = time.time()
        added = 0
        try:
            with _atomic(self.db):
                used = self._pending_bytes()
                if used + size > self.quota_bytes:
                    raise OutboxFullError(
                        f"outbox quota reached ({used + size} > {self.quota_bytes} bytes)")
                for rows, conversation_id in batches:
                    new = 0
                    for key, payload in rows:
                        new += self.db.execute(
                            "INSERT OR IGNORE INTO outbox (idempotency_key, conversation_id, "
                            "topic, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                            [key, conversation_id, topic, payload, now]).rowcount
                    added += new > 0
        except sqlite3.OperationalError as err:
            if "full" in str(err).lower():
                raise OutboxFullError(f"disk full while queueing an envelope: {err}") from None
            raise
        return added

    def _pending_bytes(self) -> int:
        row = self.db.execute("SELECT pending_bytes FROM outbox_usage WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def pending(self, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` unsent items, oldest first, at most one per conversation."""
        cursor = self.db.execute(
            "SELECT id, topic, payload, conversation_id FROM outbox WHERE sent_at IS NULL "
            "ORDER BY id")
        items: list[OutboxItem] = []
        seen: set[str] = set()
        for row in cursor:
            if row[3] is not None:
                if row[3] in seen:
                    continue
                seen.add(row[3])
            items.append(OutboxItem(row[0], row[1], bytes(row[2])))
            if len(items) >= limit:
                break
        cursor.close()
        return items

    def mark_sent(self, item_id: int) -> None:
        """The broker acknowledged ``item_id``: keep its key, drop its payload."""
        self.db.execute("UPDATE outbox SET sent_at = ?, payload = X'' WHERE id = ? "
                        "AND sent_at IS NULL", [time.time(), item_id])

    def mark_sent_many(self, item_ids: Sequence[int]) -> None:
        """:meth:`mark_sent` for several items in one transaction (one fsync)."""
        if not item_ids:
            return
        with _atomic(self.db):
            now = time.time()
            for item_id in item_ids:
                self.db.execute("UPDATE outbox SET sent_at = ?, payload = X'' WHERE id = ? "
                                "AND sent_at IS NULL", [now, item_id])

    def reject(self, item_id: int, reason: str) -> None:
        """Take an item that must never be sent (the egress guard refused it) out of the queue."""
        log.error("outbox item %d refused for upstream: %s", item_id, reason)
        self.db.execute("UPDATE outbox SET sent_at = ?, rejected = 1, payload = X'' "
                        "WHERE id = ? AND sent_at IS NULL", [time.time(), item_id])

    def backlog(self) -> int:
        """How many items wait to be sent."""
        row = self.db.execute("SELECT pending FROM outbox_usage WHERE id = 1").fetchone()
        return int(row[0]) if row else 0

    def usage(self) -> OutboxUsage:
        """Pending items and bytes against the quota."""
        row = self.db.execute(
            "SELECT pending, pending_bytes FROM outbox_usage WHERE id = 1").fetchone()
        pending, size = (int(row[0]), int(row[1])) if row else (0, 0)
        return OutboxUsage(pending, size, self.quota_bytes, self.warn_fraction)

    def prune(self, older_than_s: float) -> int:
        """Forget sent items older than ``older_than_s``; returns how many."""
        cursor = self.db.execute("DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ?",
                                 [time.time() - older_than_s])
        return cursor.rowcount
