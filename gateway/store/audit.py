"""The append-only, hash-chained audit log and its signed checkpoints, in the gateway database.

Entry *n* stores ``hash = SHA-256(prev_hash || "\\n" || canonical JSON of seq, at, actor, action,
object, detail)`` and ``prev_hash`` = entry *n-1*'s hash (64 zeros for entry 1). Appending
reads the head and inserts in one immediate transaction, so concurrent writers (threads or
processes) extend one chain. Verification and signing live in :mod:`gateway.privacy.audit`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.store.db import transaction

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited act: who did what to which object, when; ``detail`` never holds content."""

    seq: int
    at: float
    actor: str
    action: str
    object: str
    detail: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A signed statement of the log's head: entry ``entries`` has hash ``head_hash``."""

    seq: int
    entries: int
    head_hash: str
    at: float
    key_id: str
    signature: str


def canonical(value: object) -> bytes:
    """Canonical JSON: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def entry_hash(prev_hash: str, seq: int, at: float, actor: str, action: str, object: str,
               detail: Mapping[str, Any]) -> str:
    """The chain hash of one entry (pure)."""
    body = canonical({"seq": seq, "at": at, "actor": actor, "action": action,
                      "object": object, "detail": dict(detail)})
    return hashlib.sha256(prev_hash.encode() + b"\n" + body).hexdigest()


def _entry(row: Any) -> AuditEntry:
    return AuditEntry(row[0], row[1], row[2], row[3], row[4], json.loads(row[5]), row[6], row[7])


_COLUMNS = "seq, at, actor, action, object, detail, prev_hash, hash"
_SEARCHABLE = frozenset({"actor", "action", "object"})


class AuditLog:
    """Repository of the audit log; it only ever appends (and prunes by retention)."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def append(self, *, actor: str, action: str, object: str,
               detail: Mapping[str, Any] | None = None, at: float | None = None) -> AuditEntry:
        """Add an entry at the head of the chain."""
        at = time.time() if at is None else at
        detail = dict(detail or {})
        with transaction(self.db):
            row = self.db.execute(
                "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (row[0] + 1, row[1]) if row else (self._first_seq(), self._anchor())
            digest = entry_hash(prev, seq, at, actor, action, object, detail)
            self.db.execute(
                f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
                [seq, at, actor, action, object, canonical(detail).decode(), prev, digest])
        return AuditEntry(seq, at, actor, action, object, detail, prev, digest)

    def _first_seq(self) -> int:
        """After pruning everything, numbering continues after the newest checkpoint."""
        row = self.db.execute("SELECT max(entries) FROM audit_checkpoints").fetchone()
        return int(row[0] or 0) + 1

    def _anchor(self) -> str:
        row = self.db.execute(
            "SELECT head_hash FROM audit_checkpoints ORDER BY entries DESC LIMIT 1").fetchone()
        return str(row[0]) if row else GENESIS

    def entries(self, *, since_seq: int = 0, limit: int | None = None,
                newest_first: bool = False,
                contains: Mapping[str, str] | None = None) -> list[AuditEntry]:
        """Entries after ``since_seq``; ``contains`` maps ``actor``, ``action`` or ``object``
        to a text the field must contain (case-insensitive)."""
        order = "DESC" if newest_first else "ASC"
        where: list[str] = ["seq > ?"]
        params: list[object] = [since_seq]
        for column, text in sorted((contains or {}).items()):
            if column not in _SEARCHABLE:
                raise ValueError(f"cannot filter the audit log by {column!r}")
            where.append(f"instr(lower({column}), lower(?)) > 0")
            params.append(text)
        sql = (f"SELECT {_COLUMNS} FROM audit_log WHERE {' AND '.join(where)} "  # noqa: S608
               f"ORDER BY seq {order}")
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_entry(r) for r in self.db.execute(sql, params).fetchall()]

    def for_object(self, object: str) -> list[AuditEntry]:
        return [_entry(r) for r in self.db.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE object = ? ORDER BY seq",  # noqa: S608
            [object]).fetchall()]

    def latest(self, *, actor: str, action: str) -> AuditEntry | None:
        """The newest entry of ``actor`` doing ``action``."""
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM audit_log WHERE actor = ? AND action = ? "  # noqa: S608
            "ORDER BY seq DESC LIMIT 1", [actor, action]).fetchone()
        return None if row is None else _entry(row)

    def head(self) -> AuditEntry | None:
        rows = self.entries(limit=1, newest_first=True)
        return rows[0] if rows else None

    def add_checkpoint(self, checkpoint: StoredCheckpoint) -> None:
        self.db.execute(
            "INSERT INTO audit_checkpoints (seq, entries, head_hash, at, key_id, signature) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [checkpoint.seq, checkpoint.entries, checkpoint.head_hash, checkpoint.at,
             checkpoint.key_id, checkpoint.signature])

    def checkpoints(self) -> list[StoredCheckpoint]:
        return [StoredCheckpoint(*r) for r in self.db.execute(
            "SELECT seq, entries, head_hash, at, key_id, signature FROM audit_checkpoints "
            "ORDER BY seq").fetchall()]

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = self.checkpoints()
        return rows[-1] if rows else None

    def prune_before(self, cutoff: float) -> int:
        """Delete entries older than ``cutoff`` up to the newest checkpoint that covers only such
        entries; that checkpoint stays as the anchor of what remains. Returns entries removed."""
        with transaction(self.db):
            row = self.db.execute(
                "SELECT max(c.entries) FROM audit_checkpoints c JOIN audit_log e "
                "ON e.seq = c.entries WHERE e.at < ?", [cutoff]).fetchone()
            if not row or row[0] is None:
                return 0
            cursor = self.db.execute("DELETE FROM audit_log WHERE seq <= ?", [row[0]])
            self.db.execute("DELETE FROM audit_checkpoints WHERE entries < ?", [row[0]])
        return cursor.rowcount
