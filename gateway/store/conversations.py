"""Conversations, their encrypted transcript segments and their tags."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.crypto.content import open_content, seal_content
from gateway.intel.talk import TalkMetrics
from gateway.intel.types import Segment, Tag
from gateway.store.db import transaction
from gateway.store.errors import NotFound

RECEIVING = "receiving"
QUEUED = "queued"
TRANSCRIBING = "transcribing"
DONE = "done"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's metadata row (no content)."""

    id: str
    badge_id: str
    rep_id: str
    site: str
    started_at: float
    ended_at: float | None
    received_at: float
    codec: int
    sample_rate: int
    channels: int
    status: str
    finish_reason: str | None
    frames: int
    duplicates: int
    gaps: int
    audio_bytes: int
    duration_s: float | None
    speech_s: float | None
    consent_declared: bool
    wrapped_key: bytes | None
    error: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Conversation:
        row = dict(row)
        row["consent_declared"] = bool(row["consent_declared"])
        return cls(**row)


def _aad(conversation_id: str, kind: str, index: int) -> bytes:
    return f"{conversation_id}:{kind}:{index}".encode()


def _sealed_tag_rows(conversation_id: str, data_key: bytes,
                     tags: Sequence[Tag]) -> list[dict[str, object]]:
    """The ``tags`` table's rows for a conversation, each tag's words sealed with its data key."""
    return [{
        "conversation_id": conversation_id, "tag": t.tag, "start": t.start, "end": t.end,
        "confidence": t.confidence,
        "text_ct": seal_content(data_key, t.text.encode(), _aad(conversation_id, "tag", i)),
    } for i, t in enumerate(tags)]


class Conversations:
    """Repository of conversations; content is sealed with the conversation's data key."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def create(self, *, id: str, badge_id: str, rep_id: str, site: str, started_at: float,
               codec: int, sample_rate: int, channels: int, wrapped_key: bytes | None,
               consent_declared: bool = False) -> None:
        """Record a new conversation that is being received."""
        self.db.table("conversations").insert({
            "id": id, "badge_id": badge_id, "rep_id": rep_id, "site": site,
            "started_at": started_at, "received_at": time.time(), "codec": codec,
            "sample_rate": sample_rate, "channels": channels, "status": RECEIVING,
            "consent_declared": int(consent_declared), "wrapped_key": wrapped_key,
        })

    def update_start(self, conversation_id: str, *, rep_id: str, started_at: float,
                     consent_declared: bool) -> None:
        """Apply a session start that arrived after the conversation's first frames."""
        self.db.execute(
            "UPDATE conversations SET rep_id = ?, started_at = ?, consent_declared = ? "
            "WHERE id = ?", [rep_id, started_at, int(consent_declared), conversation_id])

    def get(self, conversation_id: str) -> Conversation:
        rows = list(self.db.query("SELECT * FROM conversations WHERE id = ?", [conversation_id]))
        if not rows:
            raise NotFound(f"no conversation {conversation_id}")
        return Conversation.from_row(rows[0])

    def reception(self, badge_id: str, conversation_id: str) -> tuple[bool, int] | None:
        """How far the gateway durably got with ``badge_id``'s session: (still receiving, next
        seq it wants); None for a session it has not recorded (or another badge's)."""
        row = self.db.execute(
            "SELECT c.status, s.next_seq FROM conversations c JOIN ingest_sessions s "
            "ON s.conversation_id = c.id WHERE c.id = ? AND c.badge_id = ?",
            [conversation_id, badge_id]).fetchone()
        return None if row is None else (row[0] == RECEIVING, int(row[1]))

    def exists(self, conversation_id: str) -> bool:
        return bool(self.db.execute(
            "SELECT 1 FROM conversations WHERE id = ?", [conversation_id]).fetchone())

    def recent(self, limit: int = 20) -> list[Conversation]:
        rows = self.db.query(
            "SELECT * FROM conversations ORDER BY received_at DESC LIMIT ?", [limit])
        return [Conversation.from_row(r) for r in rows]

    def in_status(self, status: str) -> list[Conversation]:
        rows = self.db.query("SELECT * FROM conversations WHERE status = ?", [status])
        return [Conversation.from_row(r) for r in rows]

    def finish(self, conversation_id: str, *, ended_at: float, reason: str, duplicates: int,
               gaps: int) -> None:
        """Mark reception complete; the conversation waits for transcription."""
        self.db.execute(
            "UPDATE conversations SET status = ?, ended_at = ?, finish_reason = ?, "
            "duplicates = ?, gaps = ? WHERE id = ?",
            [QUEUED, ended_at, reason, duplicates, gaps, conversation_id])

    def set_status(self, conversation_id: str, status: str, error: str | None = None) -> None:
        self.db.execute("UPDATE conversations SET status = ?, error = ? WHERE id = ?",
                        [status, error, conversation_id])

    def save_transcript(self, conversation_id: str, data_key: bytes, *,
                        segments: Sequence[Segment], tags: Sequence[Tag],
                        duration_s: float, speech_s: float,
                        sentiments: Sequence[float] = (),
                        talk: TalkMetrics | None = None, status: str = DONE) -> None:
        """Store sealed segments and tags and set the conversation's status (done, or held when
        consent is missing), in one transaction, so no reader ever sees a held one as done.

        ``sentiments`` (one score per segment) and ``talk`` metrics are metadata, kept in clear.
        """
        seg_rows = [{
            "conversation_id": conversation_id, "idx": i, "start": s.start, "end": s.end,
            "speaker": s.speaker,
            "text_ct": seal_content(data_key, s.text.encode(), _aad(conversation_id, "seg", i)),
            "sentiment": sentiments[i] if i < len(sentiments) else None,
        } for i, s in enumerate(segments)]
        tag_rows = _sealed_tag_rows(conversation_id, data_key, tags)
        with transaction(self.db):
            self.db.execute("DELETE FROM segments WHERE conversation_id = ?", [conversation_id])
            self.db.execute("DELETE FROM tags WHERE conversation_id = ?", [conversation_id])
            self.db.table("segments").insert_all(seg_rows)
            self.db.table("tags").insert_all(tag_rows)
            self.db.execute(
                "UPDATE conversations SET status = ?, duration_s = ?, speech_s = ?, error = NULL "
                "WHERE id = ?", [status, duration_s, speech_s, conversation_id])
            if talk is not None:
                self._save_talk(conversation_id, talk)

    def _save_talk(self, conversation_id: str, talk: TalkMetrics) -> None:
        self.db.execute("DELETE FROM talk_metrics WHERE conversation_id = ?", [conversation_id])
        self.db.table("talk_metrics").insert({
            "conversation_id": conversation_id, "speakers": ",".join(talk.speakers),
            "rep_talk_ratio": talk.rep_talk_ratio,
            "longest_monologue_s": talk.longest_monologue_s,
            "longest_monologue_speaker": talk.longest_monologue_speaker,
            "questions_rep": talk.questions.get("rep"),
            "questions_customer": talk.questions.get("customer"),
            "interruptions_rep": talk.interruptions.get("rep"),
            "interruptions_customer": talk.interruptions.get("customer"),
        })

    def talk(self, conversation_id: str) -> dict[str, Any] | None:
        """The conversation's talk metrics (None before transcription); no content."""
        rows = list(self.db.query(
            "SELECT * FROM talk_metrics WHERE conversation_id = ?", [conversation_id]))
        if not rows:
            return None
        row = dict(rows[0])
        del row["conversation_id"]
        row["speakers"] = row["speakers"].split(",")
        return row

    def sentiments(self, conversation_id: str) -> list[float | None]:
        """Each segment's sentiment score in [-1, 1], in segment order."""
        return [r[0] for r in self.db.execute(
            "SELECT sentiment FROM segments WHERE conversation_id = ? ORDER BY idx",
            [conversation_id]).fetchall()]

    def segments(self, conversation_id: str, data_key: bytes) -> list[Segment]:
        rows = self.db.query(
            'SELECT idx, start, "end", speaker, text_ct FROM segments '
            "WHERE conversation_id = ? ORDER BY idx", [conversation_id])
        return [Segment(r["start"], r["end"],
                        open_content(data_key, r["text_ct"],
                                     _aad(conversation_id, "seg", r["idx"])).decode(),
                        r["speaker"]) for r in rows]

    def tags(self, conversation_id: str, data_key: bytes) -> list[Tag]:
        rows = list(self.db.query(
            'SELECT tag, start, "end", confidence, text_ct FROM tags '
            "WHERE conversation_id = ? ORDER BY id", [conversation_id]))
        return [Tag(r["tag"], r["start"], r["end"],
                    open_content(data_key, r["text_ct"],
                                 _aad(conversation_id, "tag", i)).decode(), r["confidence"])
                for i, r in enumerate(rows)]

    def replace_tags(self, conversation_id: str, data_key: bytes, tags: Sequence[Tag]) -> None:
        """Re-seal a conversation's tags (after a person corrected them), in one transaction."""
        rows = _sealed_tag_rows(conversation_id, data_key, tags)
        with transaction(self.db):
            self.db.execute("DELETE FROM tags WHERE conversation_id = ?", [conversation_id])
            self.db.table("tags").insert_all(rows)

    def replace_segment_text(self, conversation_id: str, data_key: bytes, index: int,
                             text: str) -> bool:
        """Re-seal one segment's text; False if there is no such segment."""
        cursor = self.db.execute(
            "UPDATE segments SET text_ct = ? WHERE conversation_id = ? AND idx = ?",
            [seal_content(data_key, text.encode(), _aad(conversation_id, "seg", index)),
             conversation_id, index])
        return cursor.rowcount == 1

    def tag_spans(self, conversation_id: str) -> list[dict[str, Any]]:
        """Tags without their text: the metadata that may leave the device."""
        return [dict(r) for r in self.db.query(
            'SELECT tag, start, "end", confidence FROM tags WHERE conversation_id = ? '
            "ORDER BY id", [conversation_id])]


def public_fields(conversation: Conversation) -> dict[str, Any]:
    """A conversation's metadata as a plain dict, without its wrapped key."""
    data = dataclasses.asdict(conversation)
    del data["wrapped_key"]
    return data
