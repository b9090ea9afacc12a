"""A persistent job queue in SQLite: jobs survive crashes and resume on restart."""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlite_utils

from gateway.store.db import transaction

TRANSCRIBE = "transcribe"


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    conversation_id: str
    attempts: int


class JobQueue:
    """Queued → running → done/failed; higher priority first, then oldest first."""

    def __init__(self, db: sqlite_utils.Database, *, max_attempts: int = 3) -> None:
        self.db = db
        self.max_attempts = max_attempts

    def enqueue(self, kind: str, conversation_id: str, priority: int = 0) -> int:
        now = time.time()
        cursor = self.db.execute(
            "INSERT INTO jobs (kind, conversation_id, priority, state, created_at, updated_at) "
            "VALUES (?, ?, ?, 'queued', ?, ?)", [kind, conversation_id, priority, now, now])
        return int(cursor.lastrowid or 0)

    def claim(self) -> Job | None:
        """Take the next queued job and mark it running, atomically."""
        with transaction(self.db):
            row = self.db.execute(
                "SELECT id, kind, conversation_id, attempts FROM jobs WHERE state = 'queued' "
                "ORDER BY priority DESC, id LIMIT 1").fetchone()
            if row is None:
                return None
            self.db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?", [time.time(), row[0]])
        return Job(row[0], row[1], row[2], row[3] + 1)

    def complete(self, job_id: int) -> None:
        self.db.execute("UPDATE jobs SET state = 'done', updated_at = ? WHERE id = ?",
                        [time.time(), job_id])

    def fail(self, job: Job, error: str) -> bool:
        """Record a failure; requeue unless attempts are used up. Returns True if requeued."""
        retry = job.attempts < self.max_attempts
        self.db.execute("UPDATE jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                        ["queued" if retry else "failed", error, time.time(), job.id])
        return retry

    def resume_interrupted(self) -> int:
        """Put jobs left running by a crash back in the queue; returns how many."""
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', updated_at = ? WHERE state = 'running'",
            [time.time()])
        return cursor.rowcount

    def counts(self) -> dict[str, int]:
        return {row[0]: row[1] for row in self.db.execute(
            "SELECT state, count(*) FROM jobs GROUP BY state").fetchall()}
