"""Erasing a conversation's content from the gateway database, and its tombstone.

Content rows (segments, tags, talk metrics, subject refs, conversation envelopes not yet or
already sent) are deleted with ``secure_delete`` on, so their pages are zeroed; the WAL is then
checkpointed and truncated so no older copy of those pages stays in it. The conversation row
remains with its metadata (badge, rep, times) and a status, and a tombstone says who deleted it,
when and why. Destroying the data key (the key vault) is the caller's part.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlite_utils

from gateway.store.db import transaction

log = logging.getLogger(__name__)

#: Tables whose rows belong to one conversation and are removed with its content.
CONTENT_TABLES = ("segments", "tags", "talk_metrics", "subject_refs")

HELD = "held"  #: all-party policy, no disclosure: withheld until released or purged
PURGED = "purged"  #: content purged for consent (opt-out, or no disclosure)
DELETED = "deleted"  #: content deleted at a person's request
EXPIRED = "expired"  #: transcript past its retention; tag spans may remain for a while
CONTENT_GONE = frozenset({PURGED, DELETED, EXPIRED})
CHECKPOINT_WAIT_MS = 250


@dataclass(frozen=True, slots=True)
class Tombstone:
    conversation_id: str
    deleted_at: float
    reason: str
    actor: str


class Erasure:
    """Deletes content rows and keeps tombstones."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def erase(self, conversation_id: str, *, status: str, reason: str, actor: str,
              at: float) -> None:
        """Remove every content row of a conversation and mark it ``status``, in one
        transaction; then checkpoint the WAL."""
        tables = set(self.db.table_names())
        with transaction(self.db):
            for table in CONTENT_TABLES:
                if table in tables:
                    self.db.execute(f"DELETE FROM {table} WHERE conversation_id = ?",  # noqa: S608
                                    [conversation_id])
            self.db.execute("UPDATE consent_events SET words_ct = NULL WHERE conversation_id = ?",
                            [conversation_id])
            self.db.execute("DELETE FROM outbox WHERE conversation_id = ? "
                            "AND idempotency_key LIKE 'conversation:%'", [conversation_id])
            self.db.execute(
                "UPDATE conversations SET status = ?, wrapped_key = NULL, error = NULL "
                "WHERE id = ?", [status, conversation_id])
            self.db.execute(
                "INSERT INTO tombstones VALUES (?, ?, ?, ?) ON CONFLICT(conversation_id) "
                "DO UPDATE SET deleted_at = excluded.deleted_at, reason = excluded.reason, "
                "actor = excluded.actor", [conversation_id, at, reason, actor])
        self.checkpoint()

    def erase_transcript(self, conversation_id: str, *, actor: str, at: float) -> None:
        """Retention of the transcript: segments and tag evidence go; tag spans stay."""
        with transaction(self.db):
            self.db.execute("DELETE FROM segments WHERE conversation_id = ?", [conversation_id])
            self.db.execute("UPDATE tags SET text_ct = x'' WHERE conversation_id = ?",
                            [conversation_id])
            self.db.execute("UPDATE consent_events SET words_ct = NULL WHERE conversation_id = ?",
                            [conversation_id])
            self.db.execute("DELETE FROM subject_refs WHERE conversation_id = ?",
                            [conversation_id])
            self.db.execute("UPDATE conversations SET status = ?, wrapped_key = NULL WHERE id = ?",
                            [EXPIRED, conversation_id])
            self.db.execute("INSERT OR IGNORE INTO tombstones VALUES (?, ?, ?, ?)",
                            [conversation_id, at, "retention", actor])
        self.checkpoint()

    def erase_tags(self, conversation_id: str) -> None:
        """Retention of tags and metrics: their rows go."""
        tables = set(self.db.table_names())
        with transaction(self.db):
            for table in ("tags", "talk_metrics"):
                if table in tables:
                    self.db.execute(f"DELETE FROM {table} WHERE conversation_id = ?",  # noqa: S608
                                    [conversation_id])
        self.checkpoint()

    def checkpoint(self) -> bool:
        """Copy the WAL into the database and truncate it; False if a reader kept it busy.

        A truncating checkpoint holds off every writer while it waits for readers, so it waits
        briefly only; a deferred one leaves old pages (ciphertext whose key is destroyed) in
        the WAL until a later checkpoint.
        """
        timeout_ms = self.db.execute("PRAGMA busy_timeout").fetchone()[0]
        self.db.execute(f"PRAGMA busy_timeout = {CHECKPOINT_WAIT_MS}")
        try:
            busy, _, _ = self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        finally:
            self.db.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")
        if busy:
            log.info("WAL checkpoint deferred: a reader holds the database")
        return not busy

    def tombstone(self, conversation_id: str) -> Tombstone | None:
        row = self.db.execute("SELECT * FROM tombstones WHERE conversation_id = ?",
                              [conversation_id]).fetchone()
        return Tombstone(*row) if row else None
