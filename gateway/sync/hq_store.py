"""What the reference HQ keeps: one SQLite file that several consumers (threads or processes)
share, so de-duplication holds across all of them.

Each envelope is applied in one immediate transaction that first claims its
``(gateway_id, idempotency_key)`` in ``received`` (a primary key): whoever inserts that row applies
the envelope; everyone else sees a duplicate. ``received`` keeps keys only, never content, and is
never pruned by deletions, so a re-delivered envelope of a deleted conversation stays dropped.

* ``conversation`` and ``correction``: stored in ``envelopes`` unless the conversation has a
  tombstone (then dropped, outcome ``deleted``).
* ``deletion``: tombstones the conversations and deletes every stored envelope about them.
* ``audit_checkpoint``: stored in ``checkpoints``; continuity problems go to ``audit_alerts``.
* ``health``: stored in ``envelopes``.

With a JSON Lines sink, every applied envelope is also written there as its canonical plaintext.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal, TextIO

from gateway.sync.continuity import AuditKeyLookup, Known, continuity_problems, signature_problem
from gateway.sync.schema import (
    AuditCheckpoint,
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    to_json,
)

Applied = Literal["accepted", "duplicate", "deleted"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS received (
    gateway_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (gateway_id, idempotency_key)
);
CREATE TABLE IF NOT EXISTS envelopes (
    gateway_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    conversation_id TEXT,
    signer_key_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    received_at REAL NOT NULL,
    envelope TEXT NOT NULL,
    PRIMARY KEY (gateway_id, idempotency_key)
);
CREATE INDEX IF NOT EXISTS envelopes_conversation ON envelopes(gateway_id, conversation_id);
CREATE TABLE IF NOT EXISTS tombstones (
    gateway_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at REAL NOT NULL,
    PRIMARY KEY (gateway_id, conversation_id)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    gateway_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    entries INTEGER NOT NULL,
    at REAL NOT NULL,
    signature TEXT NOT NULL,
    received_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS checkpoints_gateway ON checkpoints(gateway_id, seq);
CREATE TABLE IF NOT EXISTS audit_alerts (
    gateway_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    problem TEXT NOT NULL,
    detected_at REAL NOT NULL
);
"""


class HqStore:
    """Received envelopes in SQLite (shareable between consumers); optional JSONL sink."""

    def __init__(self, path: Path | None = None, *, jsonl: TextIO | None = None,
                 audit_keys: AuditKeyLookup | None = None) -> None:
        self._db = sqlite3.connect(":memory:" if path is None else path, timeout=60,
                                   isolation_level=None, check_same_thread=False)
        self._lock = threading.Lock()
        self._jsonl = jsonl
        self._audit_keys = audit_keys
        with self._lock:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def add(self, envelope: Envelope, signer_key_id: str) -> Applied:
        """Apply ``envelope`` exactly once across every consumer sharing this store."""
        body = envelope.body
        gateway_id = body.gateway_id
        text = to_json(envelope).decode("ascii")
        now = time.time()
        with self._transaction() as db:
            claimed = db.execute(
                "INSERT OR IGNORE INTO received VALUES (?, ?, ?, ?)",
                (gateway_id, envelope.idempotency_key, envelope.kind, now)).rowcount
            if claimed != 1:
                return "duplicate"
            if isinstance(body, ConversationMetadata | Correction):
                if db.execute("SELECT 1 FROM tombstones WHERE gateway_id = ? AND "
                              "conversation_id = ?", (gateway_id, body.conversation_id)).fetchone():
                    return "deleted"
            if isinstance(body, DeletionNotice):
                self._apply_deletion(db, body)
            if isinstance(body, AuditCheckpoint):
                self._apply_checkpoint(db, body, now)
            ids = envelope.conversation_ids
            db.execute("INSERT INTO envelopes VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (gateway_id, envelope.idempotency_key, envelope.kind,
                        ids[0] if len(ids) == 1 else None, signer_key_id, envelope.created_at,
                        now, text))
        if self._jsonl is not None:
            self._jsonl.write(text + "\n")
            self._jsonl.flush()
        return "accepted"

    @staticmethod
    def _apply_deletion(db: sqlite3.Connection, notice: DeletionNotice) -> None:
        for cid in notice.conversation_ids:
            db.execute("INSERT OR IGNORE INTO tombstones VALUES (?, ?, ?, ?)",
                       (notice.gateway_id, cid, notice.reason, notice.requested_at))
            db.execute("DELETE FROM envelopes WHERE gateway_id = ? AND conversation_id = ? "
                       "AND kind IN ('conversation', 'correction')", (notice.gateway_id, cid))

    def _apply_checkpoint(self, db: sqlite3.Connection, cp: AuditCheckpoint, now: float) -> None:
        known = [Known(*row) for row in db.execute(
            "SELECT seq, head_hash, entries, at FROM checkpoints WHERE gateway_id = ?",
            (cp.gateway_id,))]
        problems = continuity_problems(cp, known)
        if self._audit_keys is not None:
            problem = signature_problem(cp, self._audit_keys(cp.gateway_id))
            problems += [problem] if problem else []
        db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (cp.gateway_id, cp.seq, cp.head_hash, cp.entries, cp.at, cp.signature, now))
        for problem in problems:
            db.execute("INSERT INTO audit_alerts VALUES (?, ?, ?, ?)",
                       (cp.gateway_id, cp.seq, problem, now))

    def count(self, kind: str | None = None) -> int:
        """How many envelopes are stored (of ``kind``)."""
        sql, args = "SELECT count(*) FROM envelopes", tuple[str, ...]()
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", (kind,)
        with self._lock:
            return int(self._db.execute(sql, args).fetchone()[0])

    def keys(self, kind: str | None = None) -> list[tuple[str, str]]:
        """(gateway_id, idempotency_key) of every envelope ever applied (of ``kind``)."""
        sql, args = "SELECT gateway_id, idempotency_key FROM received", tuple[str, ...]()
        if kind is not None:
            sql, args = sql + " WHERE kind = ?", (kind,)
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute(sql + " ORDER BY rowid", args)]

    def alerts(self, gateway_id: str | None = None) -> list[tuple[str, int, str]]:
        """Audit continuity alerts: (gateway_id, seq, problem)."""
        sql = "SELECT gateway_id, seq, problem FROM audit_alerts"
        args: tuple[str, ...] = ()
        if gateway_id is not None:
            sql, args = sql + " WHERE gateway_id = ?", (gateway_id,)
        with self._lock:
            return [(r[0], r[1], r[2]) for r in self._db.execute(sql + " ORDER BY rowid", args)]

    def deleted(self, gateway_id: str, conversation_id: str) -> bool:
        """Whether HQ holds a tombstone for the conversation."""
        with self._lock:
            return self._db.execute(
                "SELECT 1 FROM tombstones WHERE gateway_id = ? AND conversation_id = ?",
                (gateway_id, conversation_id)).fetchone() is not None

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
