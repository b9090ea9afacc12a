"""The persistent job queue: priorities, idempotent enqueue, leases, cancellation, crash resume."""

from __future__ import annotations

from pathlib import Path

from conftest import wait_for

from gateway.store.db import open_db
from gateway.store.jobs import (
    PRIORITY_PURGE,
    PRIORITY_TRANSCRIBE,
    PURGE,
    TRANSCRIBE,
    JobQueue,
)


def test_a_purge_outranks_older_transcriptions(tmp_path: Path) -> None:
    jobs = JobQueue(open_db(tmp_path / "g.db"))
    assert PRIORITY_PURGE > PRIORITY_TRANSCRIBE
    for n in range(3):
        jobs.enqueue(TRANSCRIBE, f"c{n}", PRIORITY_TRANSCRIBE)
    jobs.enqueue(PURGE, "c2", PRIORITY_PURGE)
    first = jobs.claim()
    assert first is not None and (first.kind, first.conversation_id) == (PURGE, "c2")
    assert first.priority == PRIORITY_PURGE
    following = [jobs.claim() for _ in range(3)]
    assert [j.conversation_id for j in following if j] == ["c0", "c1", "c2"]
    assert jobs.claim() is None


def test_enqueue_is_idempotent_and_raises_priority(tmp_path: Path) -> None:
    jobs = JobQueue(open_db(tmp_path / "g.db"))
    first = jobs.enqueue(TRANSCRIBE, "c1")
    assert jobs.enqueue(TRANSCRIBE, "c1") == first
    assert jobs.enqueue(TRANSCRIBE, "c1", priority=7) == first
    assert jobs.counts() == {"queued": 1}
    job = jobs.claim()
    assert job is not None and job.priority == 7
    assert jobs.enqueue(TRANSCRIBE, "c1") != first  # a running job does not absorb a new one


def test_cancel_takes_queued_transcriptions_away(tmp_path: Path) -> None:
    jobs = JobQueue(open_db(tmp_path / "g.db"))
    jobs.enqueue(TRANSCRIBE, "c1")
    jobs.enqueue(TRANSCRIBE, "c2")
    assert jobs.cancel("c1") == 1
    assert jobs.pending("c1") == []
    job = jobs.claim()
    assert job is not None and job.conversation_id == "c2"


def test_claim_filters_by_kind(tmp_path: Path) -> None:
    jobs = JobQueue(open_db(tmp_path / "g.db"))
    jobs.enqueue(TRANSCRIBE, "c1")
    jobs.enqueue(PURGE, "c2", PRIORITY_PURGE)
    job = jobs.claim(kinds=(TRANSCRIBE,))
    assert job is not None and job.kind == TRANSCRIBE


def test_an_expired_lease_lets_another_worker_take_the_job(tmp_path: Path) -> None:
    db = open_db(tmp_path / "g.db")
    hung = JobQueue(db, lease_s=0.05, owner="hung")
    healthy = JobQueue(db, lease_s=60, owner="healthy")
    hung.enqueue(TRANSCRIBE, "c1")
    taken = hung.claim()
    assert taken is not None and healthy.claim() is None
    again = wait_for(healthy.claim, 10, "the hung worker's lease to expire")
    assert again is not None and again.id == taken.id and again.attempts == 2
    assert not hung.extend(taken)  # the hung worker learns it lost the job
    assert healthy.extend(again)


def test_a_job_that_keeps_crashing_the_process_stops_being_retried(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    JobQueue(open_db(path), max_attempts=2).enqueue(TRANSCRIBE, "poison")
    for _ in range(2):  # each "process" claims it and dies
        jobs = JobQueue(open_db(path), max_attempts=2)
        jobs.resume_interrupted()
        assert jobs.claim() is not None
    jobs = JobQueue(open_db(path), max_attempts=2)
    assert jobs.resume_interrupted() == 1
    assert jobs.claim() is None
    assert jobs.counts() == {"failed": 1}
