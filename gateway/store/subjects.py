"""Subject references: keyed hashes (HMAC) of identifiers seen in a conversation, never the
identifiers themselves. They let a data-subject request find conversations after redaction."""

from __future__ import annotations

from collections.abc import Iterable

import sqlite_utils

SUBJECT_KINDS = ("phone", "email", "customer_ref")


class SubjectRefs:
    """Repository of (conversation, kind, HMAC) rows."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, conversation_id: str, kind: str, ref: str) -> None:
        if kind not in SUBJECT_KINDS:
            raise ValueError(f"unknown subject kind {kind!r}")
        self.db.execute("INSERT OR IGNORE INTO subject_refs VALUES (?, ?, ?)",
                        [conversation_id, kind, ref])

    def conversations(self, refs: Iterable[str]) -> dict[str, set[str]]:
        """Conversation id -> the kinds that matched, for any of ``refs``."""
        refs = list(refs)
        if not refs:
            return {}
        marks = ", ".join("?" * len(refs))
        found: dict[str, set[str]] = {}
        for conversation_id, kind in self.db.execute(
                f"SELECT conversation_id, kind FROM subject_refs "  # noqa: S608
                f"WHERE ref IN ({marks})", refs).fetchall():
            found.setdefault(conversation_id, set()).add(kind)
        return found

    def of(self, conversation_id: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT kind, ref FROM subject_refs WHERE conversation_id = ? ORDER BY kind, ref",
            [conversation_id]).fetchall()]

    def forget(self, conversation_id: str) -> None:
        self.db.execute("DELETE FROM subject_refs WHERE conversation_id = ?", [conversation_id])
