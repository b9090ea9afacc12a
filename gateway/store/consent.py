"""The consent ledger: per conversation, what was disclosed, agreed or refused, and when.

The ledger outlives the conversation's content: after a purge it still shows that (and when)
a customer opted out, and under which policy, with no content. Only the disclosure's words are
content; they are sealed with the conversation's data key and vanish with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from gateway.crypto.content import open_content, seal_content
from gateway.crypto.errors import CryptoError

DISCLOSURE_DETECTED = "disclosure_detected"
DISCLOSURE_DECLARED = "disclosure_declared"
CONSENT_GIVEN = "consent_given"
OPT_OUT = "opt_out"
HELD = "held"
RELEASED = "released"
PURGED = "purged"
KINDS = (DISCLOSURE_DETECTED, DISCLOSURE_DECLARED, CONSENT_GIVEN, OPT_OUT, HELD, RELEASED, PURGED)


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """One ledger entry. ``offset_s`` is seconds into the conversation when known."""

    id: int
    conversation_id: str
    at: float
    offset_s: float | None
    kind: str
    source: str
    policy: str
    disclosure_version: str
    confidence: float | None
    has_words: bool


def _aad(conversation_id: str, event_id: int) -> bytes:
    return f"{conversation_id}:consent:{event_id}".encode()


class ConsentLedger:
    """Repository of consent events; append-only except for the sealed words."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def record(self, conversation_id: str, kind: str, *, at: float, source: str, policy: str,
               disclosure_version: str, offset_s: float | None = None,
               confidence: float | None = None, words: str | None = None,
               data_key: bytes | None = None) -> int:
        """Append an event; ``words`` (content) are kept only sealed with ``data_key``."""
        if kind not in KINDS:
            raise ValueError(f"unknown consent event kind {kind!r}")
        cursor = self.db.execute(
            "INSERT INTO consent_events (conversation_id, at, offset_s, kind, source, policy, "
            "disclosure_version, confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [conversation_id, at, offset_s, kind, source, policy, disclosure_version,
             confidence])
        event_id = int(cursor.lastrowid or 0)
        if words is not None and data_key is not None:
            self.db.execute("UPDATE consent_events SET words_ct = ? WHERE id = ?",
                            [seal_content(data_key, words.encode(),
                                          _aad(conversation_id, event_id)), event_id])
        return event_id

    def events(self, conversation_id: str) -> list[ConsentEvent]:
        rows = self.db.execute(
            "SELECT id, conversation_id, at, offset_s, kind, source, policy, disclosure_version, "
            "confidence, words_ct IS NOT NULL FROM consent_events WHERE conversation_id = ? "
            "ORDER BY id", [conversation_id]).fetchall()
        return [ConsentEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], bool(r[9]))
                for r in rows]

    def has(self, conversation_id: str, kinds: tuple[str, ...]) -> bool:
        marks = ", ".join("?" * len(kinds))
        return self.db.execute(
            f"SELECT 1 FROM consent_events WHERE conversation_id = ? "  # noqa: S608
            f"AND kind IN ({marks}) LIMIT 1", [conversation_id, *kinds]).fetchone() is not None

    def words(self, event: ConsentEvent, data_key: bytes) -> str | None:
        """The sealed words of an event, or None when there are none or the key is gone."""
        row = self.db.execute("SELECT words_ct FROM consent_events WHERE id = ?",
                              [event.id]).fetchone()
        if not row or row[0] is None:
            return None
        try:
            return open_content(data_key, row[0], _aad(event.conversation_id, event.id)).decode()
        except CryptoError:
            return None
