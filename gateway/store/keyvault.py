"""The key vault: every conversation's wrapped data key, in its own SQLite file beside the KEK.

Content (spool, transcript, tag evidence, disclosure words) is sealed with a per-conversation
data key; the vault holds that key wrapped by the KEK. Destroying a conversation's vault row is
crypto-shredding: the content left anywhere else (the main database, its WAL, the spool, a
backup of them) can no longer be opened. So the vault lives in the key directory, which is never
part of a backup, and never in the main database.

The vault file uses a rollback journal (no WAL, so no old copies of a page linger after a
commit) and ``secure_delete``, so a destroyed row is zeroed in the file. One vault object may be
shared by the threads of a process: calls are serialized by a lock.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlite_utils

from gateway.crypto.datakeys import KeyStore
from gateway.store.conversations import Conversation
from gateway.store.errors import NotFound, StoreError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_keys (
    conversation_id TEXT PRIMARY KEY,
    wrapped BLOB NOT NULL,
    created_at REAL NOT NULL
)
"""


class KeyDestroyed(NotFound):
    """The conversation's data key does not exist (any more): its content cannot be opened."""


class KeyVault:
    """Wrapped per-conversation data keys, kept apart from the content they open."""

    def __init__(self, path: Path, keys: KeyStore) -> None:
        self.path = path
        self.keys = keys
        self._lock = threading.RLock()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            self._conn = sqlite3.connect(path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=DELETE")
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open key vault {path}: {exc}") from exc
        path.chmod(0o600)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def create(self, conversation_id: str) -> bytes:
        """Make, wrap and store a new data key for a conversation; returns the key."""
        data_key, wrapped = self.keys.new_data_key(conversation_id.encode())
        self.store({conversation_id: wrapped})
        return data_key

    def store(self, wrapped_keys: dict[str, bytes], *, replace: bool = False) -> None:
        """Store wrapped data keys (made with ``keys.new_data_key``) in one transaction. With
        ``replace``, a key already there is overwritten (one an attempt left that never got its
        conversation recorded); without, it is refused."""
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        now = time.time()
        with self._tx() as conn:
            conn.executemany(f"{verb} INTO data_keys VALUES (?, ?, ?)",  # noqa: S608
                             [(cid, wrapped, now) for cid, wrapped in wrapped_keys.items()])

    def created_before(self, moment: float) -> list[str]:
        """Conversations whose key was stored before ``moment``."""
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT conversation_id FROM data_keys WHERE created_at < ?", [moment])]

    def wrapped(self, conversation_id: str) -> bytes:
        """The wrapped key as stored (for tests and diagnostics)."""
        with self._lock:
            row = self._conn.execute("SELECT wrapped FROM data_keys WHERE conversation_id = ?",
                                     [conversation_id]).fetchone()
        if row is None:
            raise KeyDestroyed(f"conversation {conversation_id} has no data key")
        return bytes(row[0])

    def data_key(self, conversation_id: str) -> bytes:
        """Unwrap a conversation's data key; raises KeyDestroyed if it is gone."""
        return self.keys.unwrap(self.wrapped(conversation_id), context=conversation_id.encode())

    def key_for(self, conversation: Conversation) -> bytes:
        """The data key of a conversation, also for a row still carrying a legacy wrapped key."""
        if conversation.wrapped_key:
            return self.keys.unwrap(conversation.wrapped_key, context=conversation.id.encode())
        return self.data_key(conversation.id)

    def has(self, conversation_id: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM data_keys WHERE conversation_id = ?",
                                      [conversation_id]).fetchone() is not None

    def destroy(self, conversation_id: str) -> bool:
        """Delete a conversation's key (the row is zeroed on disk); True if there was one."""
        with self._tx() as conn:
            cursor = conn.execute("DELETE FROM data_keys WHERE conversation_id = ?",
                                  [conversation_id])
        return cursor.rowcount == 1

    def ids(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._conn.execute(
                "SELECT conversation_id FROM data_keys ORDER BY created_at")]

    def generations(self) -> dict[int, int]:
        """How many keys are wrapped under each KEK generation."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT unicode(substr(wrapped, 1, 1)), count(*) FROM data_keys "
                "GROUP BY 1").fetchall()
        return {int(r[0]): int(r[1]) for r in rows}

    def rewrap(self, target: KeyStore) -> int:
        """Re-wrap every key not yet under ``target``'s generation, in one transaction.

        Unwrapping uses this vault's key store, which must know the old generations.
        """
        with self._tx() as conn:
            rows = conn.execute("SELECT conversation_id, wrapped FROM data_keys").fetchall()
            count = 0
            for conversation_id, wrapped in rows:
                if wrapped[0] == target.generation:
                    continue
                context = conversation_id.encode()
                data_key = self.keys.unwrap(bytes(wrapped), context=context)
                conn.execute("UPDATE data_keys SET wrapped = ? WHERE conversation_id = ?",
                             [target.wrap(data_key, context), conversation_id])
                count += 1
        return count

    def adopt(self, db: sqlite_utils.Database) -> int:
        """Move wrapped keys still kept in the conversations table into the vault."""
        rows = db.execute("SELECT id, wrapped_key FROM conversations "
                          "WHERE length(wrapped_key) > 0").fetchall()
        for conversation_id, wrapped in rows:
            with self._tx() as conn:
                conn.execute("INSERT OR IGNORE INTO data_keys VALUES (?, ?, ?)",
                             [conversation_id, bytes(wrapped), time.time()])
            db.execute("UPDATE conversations SET wrapped_key = NULL WHERE id = ?",
                       [conversation_id])
        if rows:
            log.info("moved %d data keys from the database into the key vault", len(rows))
        return len(rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
