"""Corrections people made to tags and transcript text: what changed, who did it and when.

The corrected values live in the tags and segments tables; this history keeps tag names and
spans only (no transcript text), so it may be shown in the audit view and sent upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True, slots=True)
class CorrectionRecord:
    id: int
    conversation_id: str
    target: str
    action: str
    tag: str | None
    new_tag: str | None
    start: float | None
    end: float | None
    actor: str
    at: float


class Corrections:
    """Append-only history of corrections."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, conversation_id: str, *, target: str, action: str, actor: str, at: float,
            tag: str | None = None, new_tag: str | None = None, start: float | None = None,
            end: float | None = None) -> int:
        cursor = self.db.execute(
            'INSERT INTO corrections (conversation_id, target, action, tag, new_tag, start, "end", '
            "actor, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [conversation_id, target, action, tag, new_tag, start, end, actor, at])
        return int(cursor.lastrowid or 0)

    def of(self, conversation_id: str) -> list[CorrectionRecord]:
        return [CorrectionRecord(*r) for r in self.db.execute(
            'SELECT id, conversation_id, target, action, tag, new_tag, start, "end", actor, at '
            "FROM corrections WHERE conversation_id = ? ORDER BY id",
            [conversation_id]).fetchall()]
