"""Full-text search over transcripts without putting words on disk.

An FTS5 table in an in-memory SQLite database, filled from decrypted segments and kept in step
with the store: conversations that finished since the last query are added, and ones whose
content was deleted (or whose key is gone) are dropped before any query is answered. A plain
FTS5 table in the gateway's database would keep every word of a deleted conversation in its
pages; this index lives only in the memory of the process that searches.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.intel.types import Segment

# Words only: FTS5 query syntax (quotes, NEAR, column filters, '*') is not exposed to people.
_WORD = re.compile(r"[\w'-]+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class Hit:
    conversation_id: str
    index: int
    start: float
    end: float
    text: str
    snippet: str   #: the segment text with matches wrapped in [[ and ]]
    rank: float


def fts_query(text: str) -> str:
    """A safe FTS5 query: every word must appear (prefix match on the last one)."""
    words = [w.replace('"', "") for w in _WORD.findall(text)][:12]
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " AND ".join(quoted)


class SearchIndex:
    """An in-memory FTS5 index of segments, one process-wide instance, safe across threads."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False)
        self._db.execute("CREATE VIRTUAL TABLE segments USING fts5("
                         "text, conversation_id UNINDEXED, idx UNINDEXED, start UNINDEXED, "
                         "end UNINDEXED, tokenize = 'unicode61 remove_diacritics 2')")
        self._indexed: set[str] = set()
        self._lock = threading.Lock()

    @property
    def conversations(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._indexed)

    def sync(self, searchable: Iterable[str],
             segments_of: Callable[[str], list[Segment] | None]) -> None:
        """Make the index hold exactly ``searchable``; ``segments_of`` decrypts one
        conversation (None when its content is gone)."""
        wanted = set(searchable)
        with self._lock:
            for gone in self._indexed - wanted:
                self._drop(gone)
            for conversation_id in sorted(wanted - self._indexed):
                segments = segments_of(conversation_id)
                if segments is None:
                    continue
                self._db.executemany(
                    "INSERT INTO segments (text, conversation_id, idx, start, end) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(s.text, conversation_id, i, s.start, s.end)
                     for i, s in enumerate(segments)])
                self._indexed.add(conversation_id)

    def forget(self, conversation_id: str) -> None:
        with self._lock:
            self._drop(conversation_id)

    def _drop(self, conversation_id: str) -> None:
        self._db.execute("DELETE FROM segments WHERE conversation_id = ?", [conversation_id])
        self._indexed.discard(conversation_id)

    def search(self, text: str, *, limit: int = 50) -> list[Hit]:
        """Segments matching every word of ``text``, best first."""
        query = fts_query(text)
        if not query:
            return []
        with self._lock:
            rows = self._db.execute(
                "SELECT conversation_id, idx, start, end, text, "
                "highlight(segments, 0, '[[', ']]'), rank FROM segments "
                "WHERE segments MATCH ? ORDER BY rank LIMIT ?", [query, limit]).fetchall()
        return [Hit(r[0], int(r[1]), float(r[2]), float(r[3]), r[4], r[5], float(r[6]))
                for r in rows]
