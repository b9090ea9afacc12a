"""A persistent job queue in SQLite: jobs survive crashes and resume on restart.

A job is ``queued`` → ``running`` (claimed under a lease) → ``done`` / ``failed``. Higher
priority runs first, then the oldest. A claim is one immediate transaction, so two workers never
take the same job. A job whose worker died (the process was killed, or a thread hung past its
lease) goes back to the queue: at start-up through :meth:`JobQueue.resume_interrupted`, and at
any time once its lease has expired. Each claim counts as an attempt, so a job that crashes the
process every time stops being retried after ``max_attempts``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import sqlite_utils

from gateway.store.db import transaction

TRANSCRIBE = "transcribe"
PURGE = "purge"

PRIORITY_PURGE = 100
"""An opt-out purge outranks everything: the customer asked for their data to go."""
PRIORITY_TRANSCRIBE = 0
"""Transcription of a received conversation."""

DEFAULT_LEASE_S = 6 * 3600.0
"""Longer than any job runs (a 4 h conversation on a Pi), so only a hung worker loses one."""

QUEUED = "queued"
RUNNING = "running"
DONE = "done"
FAILED = "failed"
CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed job; ``attempts`` counts this claim."""

    id: int
    kind: str
    conversation_id: str
    attempts: int
    priority: int = PRIORITY_TRANSCRIBE


def default_owner() -> str:
    """An owner id for leases: the process id (a restarted gateway is a new owner)."""
    return f"pid-{os.getpid()}"


class JobQueue:
    """Queued → running → done/failed; higher priority first, then oldest first."""

    def __init__(self, db: sqlite_utils.Database, *, max_attempts: int = 3,
                 lease_s: float = DEFAULT_LEASE_S, owner: str | None = None) -> None:
        self.db = db
        self.max_attempts = max_attempts
        self.lease_s = lease_s
        self.owner = owner or default_owner()

    def enqueue(self, kind: str, conversation_id: str,
                priority: int = PRIORITY_TRANSCRIBE) -> int:
        """Queue a job and return its id.

        Idempotent: if the same kind of job for the same conversation is already queued, its
        priority is raised to ``priority`` if lower and its id is returned.
        """
        now = time.time()
        self.db.execute(
            "INSERT INTO jobs (kind, conversation_id, priority, state, created_at, updated_at) "
            "SELECT ?, ?, ?, 'queued', ?, ? WHERE NOT EXISTS (SELECT 1 FROM jobs "
            "WHERE kind = ? AND conversation_id = ? AND state = 'queued')",
            [kind, conversation_id, priority, now, now, kind, conversation_id])
        self.db.execute(
            "UPDATE jobs SET priority = max(priority, ?) "
            "WHERE kind = ? AND conversation_id = ? AND state = 'queued'",
            [priority, kind, conversation_id])
        row = self.db.execute(
            "SELECT id FROM jobs WHERE kind = ? AND conversation_id = ? AND state = 'queued' "
            "ORDER BY id DESC LIMIT 1", [kind, conversation_id]).fetchone()
        return int(row[0])

    def claim(self, kinds: tuple[str, ...] | None = None) -> Job | None:
        """Take the next ready job (queued, or running with an expired lease), atomically.

        With ``kinds``, only jobs of those kinds are considered.
        """
        now = time.time()
        where = "(state = 'queued' OR (state = 'running' AND lease_until < ?))"
        params: list[object] = [now]
        if kinds:
            where += f" AND kind IN ({', '.join('?' * len(kinds))})"
            params.extend(kinds)
        with transaction(self.db):
            while True:
                row = self.db.execute(
                    f"SELECT id, kind, conversation_id, attempts, priority FROM jobs "  # noqa: S608
                    f"WHERE {where} ORDER BY priority DESC, id LIMIT 1", params).fetchone()
                if row is None:
                    return None
                if row[3] < self.max_attempts:
                    break
                # interrupted on every attempt: it probably kills the process; stop trying
                self.db.execute(
                    "UPDATE jobs SET state = 'failed', updated_at = ?, lease_owner = NULL, "
                    "lease_until = NULL, error = coalesce(error, 'interrupted on every attempt') "
                    "WHERE id = ?", [now, row[0]])
            self.db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = ?, "
                "lease_owner = ?, lease_until = ? WHERE id = ?",
                [now, self.owner, now + self.lease_s, row[0]])
        return Job(row[0], row[1], row[2], row[3] + 1, row[4])

    def extend(self, job: Job) -> bool:
        """Renew the lease on a job this queue's owner holds; False if it was taken away."""
        cursor = self.db.execute(
            "UPDATE jobs SET lease_until = ?, updated_at = ? "
            "WHERE id = ? AND state = 'running' AND lease_owner = ?",
            [time.time() + self.lease_s, time.time(), job.id, self.owner])
        return cursor.rowcount == 1

    def complete(self, job_id: int) -> None:
        """Mark a job done."""
        self.db.execute(
            "UPDATE jobs SET state = 'done', updated_at = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE id = ?", [time.time(), job_id])

    def fail(self, job: Job, error: str) -> bool:
        """Record a failure; requeue unless attempts are used up. Returns True if requeued."""
        retry = job.attempts < self.max_attempts
        self.db.execute(
            "UPDATE jobs SET state = ?, error = ?, updated_at = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE id = ?",
            [QUEUED if retry else FAILED, error, time.time(), job.id])
        return retry

    def cancel(self, conversation_id: str, kinds: tuple[str, ...] = (TRANSCRIBE,)) -> int:
        """Cancel queued jobs of ``kinds`` for a conversation (e.g. before purging it).

        Returns how many were cancelled. A running job is left alone: its worker finds the
        conversation gone and finishes without result.
        """
        cursor = self.db.execute(
            f"UPDATE jobs SET state = 'cancelled', updated_at = ? WHERE conversation_id = ? "  # noqa: S608
            f"AND state = 'queued' AND kind IN ({', '.join('?' * len(kinds))})",
            [time.time(), conversation_id, *kinds])
        return cursor.rowcount

    def resume_interrupted(self) -> int:
        """Put jobs left running by a crash back in the queue; returns how many.

        Call once at start-up, before any worker runs: every running job is then an orphan.
        """
        cursor = self.db.execute(
            "UPDATE jobs SET state = 'queued', updated_at = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE state = 'running'", [time.time()])
        return cursor.rowcount

    def counts(self) -> dict[str, int]:
        """How many jobs are in each state."""
        return {row[0]: row[1] for row in self.db.execute(
            "SELECT state, count(*) FROM jobs GROUP BY state").fetchall()}

    def pending(self, conversation_id: str) -> list[tuple[str, str]]:
        """(kind, state) of every job for a conversation that is not finished yet."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT kind, state FROM jobs WHERE conversation_id = ? "
            "AND state IN ('queued', 'running') ORDER BY id", [conversation_id]).fetchall()]
