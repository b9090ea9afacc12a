"""The SQLite store and the encrypted spool, on real files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.crypto.datakeys import KeyStore
from gateway.crypto.errors import IntegrityError
from gateway.intel.types import Segment, Tag
from gateway.store.conversations import DONE, QUEUED, Conversations
from gateway.store.db import open_db, transaction
from gateway.store.jobs import TRANSCRIBE, JobQueue
from gateway.store.migrations import MIGRATIONS
from gateway.store.spool import AudioSpool


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.create(tmp_path / "keys" / "kek.key")


def test_migrations_apply_once(tmp_path: Path) -> None:
    db = open_db(tmp_path / "g.db")
    names = [r[0] for r in db.execute("SELECT name FROM _migrations").fetchall()]
    assert names == [name for name, _ in MIGRATIONS]
    db.close()
    db = open_db(tmp_path / "g.db")
    assert db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_connections_opening_a_new_database_at_once_migrate_it_once(tmp_path: Path) -> None:
    import threading

    path, errors, ready = tmp_path / "g.db", [], threading.Barrier(6)

    def open_one() -> None:
        ready.wait()
        try:
            open_db(path).close()
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    db = open_db(path)
    assert [r[0] for r in db.execute("SELECT name FROM _migrations ORDER BY name")] == [
        name for name, _ in MIGRATIONS]


def test_opening_a_migrated_database_does_not_wait_for_the_write_lock(tmp_path: Path) -> None:
    import threading

    path = tmp_path / "g.db"
    open_db(path).close()  # start-up: creates and migrates
    writer = open_db(path)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-write holds the lock
    opened = threading.Event()

    def open_one() -> None:
        db = open_db(path)  # would wait up to its 30 s busy timeout for the lock
        assert db.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
        db.close()
        opened.set()

    thread = threading.Thread(target=open_one, daemon=True)
    thread.start()
    try:
        assert opened.wait(10), "open_db waited for the write lock"
    finally:
        writer.execute("ROLLBACK")
        thread.join()
        writer.close()


def test_transaction_rolls_back(tmp_path: Path) -> None:
    db = open_db(tmp_path / "g.db")
    jobs = JobQueue(db)
    with pytest.raises(RuntimeError), transaction(db):
        jobs.enqueue(TRANSCRIBE, "c1")
        raise RuntimeError("boom")
    assert jobs.counts() == {}


def test_a_nested_transaction_is_a_savepoint_of_the_outer_one(tmp_path: Path) -> None:
    db = open_db(tmp_path / "g.db")
    jobs = JobQueue(db)
    other = open_db(tmp_path / "g.db")  # another reader, as the web UI is
    with transaction(db):
        jobs.enqueue(TRANSCRIBE, "c1")
        with pytest.raises(RuntimeError), transaction(db):
            jobs.enqueue(TRANSCRIBE, "c2")
            raise RuntimeError("boom")  # undoes c2 only
        with transaction(db):
            jobs.enqueue(TRANSCRIBE, "c3")
        assert JobQueue(other).counts() == {}  # nothing visible before the outer commit
    assert sorted(r[0] for r in other.execute("SELECT conversation_id FROM jobs")) == ["c1", "c3"]


def test_spool_round_trip_and_binding(tmp_path: Path, keys: KeyStore) -> None:
    spool = AudioSpool(tmp_path / "spool")
    data_key, _ = keys.new_data_key(b"c1")
    writer = spool.writer("c1", data_key)
    chunks = [os.urandom(3200) for _ in range(5)]
    for chunk in chunks[:3]:
        writer.append(chunk)
    writer.close()
    writer = spool.writer("c1", data_key)  # resumes after a restart
    for chunk in chunks[3:]:
        writer.append(chunk)
    writer.close()
    assert spool.read("c1", data_key) == b"".join(chunks)
    raw = spool.path("c1").read_bytes()
    assert chunks[0][:64] not in raw  # nothing in clear
    other_key, _ = keys.new_data_key(b"c2")
    with pytest.raises(IntegrityError):
        spool.read("c1", other_key)
    os.rename(spool.path("c1"), spool.path("c2"))  # moved to another conversation
    with pytest.raises(IntegrityError):
        spool.read("c2", data_key)


def test_spool_ignores_a_record_cut_by_a_crash(tmp_path: Path, keys: KeyStore) -> None:
    spool = AudioSpool(tmp_path / "spool")
    data_key, _ = keys.new_data_key(b"c1")
    writer = spool.writer("c1", data_key)
    writer.append(b"a" * 100)
    writer.append(b"b" * 100)
    writer.close()
    path = spool.path("c1")
    path.write_bytes(path.read_bytes()[:-10])
    assert spool.read("c1", data_key) == b"a" * 100


def test_transcript_is_encrypted_at_rest(tmp_path: Path, keys: KeyStore) -> None:
    db = open_db(tmp_path / "g.db")
    conversations = Conversations(db)
    data_key, wrapped = keys.new_data_key(b"c1")
    conversations.create(id="c1", badge_id="b1", rep_id="r1", site="s1", started_at=1.0,
                         codec=1, sample_rate=16000, channels=1, wrapped_key=wrapped)
    conversations.finish("c1", ended_at=2.0, reason="final", duplicates=0, gaps=0)
    assert conversations.get("c1").status == QUEUED
    segments = [Segment(0.0, 1.5, "the zebra costs too much"), Segment(1.5, 3.0, "call me")]
    tags = [Tag("objection.price", 0.0, 1.5, "the zebra costs too much", 0.9)]
    conversations.save_transcript("c1", data_key, segments=segments, tags=tags,
                                  duration_s=3.0, speech_s=2.5)
    assert conversations.get("c1").status == DONE
    assert conversations.segments("c1", data_key) == segments
    assert conversations.tags("c1", data_key) == tags
    db.close()
    for name in ("g.db", "g.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert b"zebra" not in path.read_bytes()


def test_jobs_resume_after_a_crash(tmp_path: Path) -> None:
    db = open_db(tmp_path / "g.db")
    jobs = JobQueue(db, max_attempts=2)
    jobs.enqueue(TRANSCRIBE, "c1")
    jobs.enqueue(TRANSCRIBE, "c2", priority=5)
    first = jobs.claim()
    assert first is not None and first.conversation_id == "c2"
    db.close()  # the process dies with the job running
    db = open_db(tmp_path / "g.db")
    jobs = JobQueue(db, max_attempts=2)
    assert jobs.resume_interrupted() == 1
    again = jobs.claim()
    assert again is not None and again.conversation_id == "c2" and again.attempts == 2
    assert jobs.fail(again, "broken") is False
    assert jobs.counts()["failed"] == 1
