"""The recorder's group commit (real SQLite, real key vault, real encrypted spool): sessions that
start, stream and end between two flushes become durable together, only at the flush; a session
whose start a crash kept from being committed starts afresh when the badge sends it again, and
its leftovers are swept when it never does."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.crypto.datakeys import KeyStore
from gateway.ingest.recorder import Recorder
from gateway.protocol.events import Chunk, Event, Finished, Started
from gateway.protocol.frames import Codec
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.jobs import JobQueue
from gateway.store.keyvault import KeyVault
from gateway.store.spool import AudioSpool


@dataclass
class Box:
    root: Path
    keys: KeyStore
    vault: KeyVault
    spool: AudioSpool
    conversations: Conversations
    jobs: JobQueue

    def recorder(self) -> Recorder:
        return Recorder(site="s1", keys=self.keys, conversations=self.conversations,
                        jobs=self.jobs, spool=self.spool, vault=self.vault)

    def audio(self, sid: str) -> bytes:
        return self.spool.read(sid, self.vault.data_key(sid))


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    db = open_db(tmp_path / "gateway.db")
    keys = KeyStore.open_or_create(tmp_path / "kek.key")
    vault = KeyVault(tmp_path / "datakeys.db", keys)
    yield Box(tmp_path, keys, vault, AudioSpool(tmp_path / "spool"), Conversations(db),
              JobQueue(db))
    vault.close()
    db.close()


def session(badge: str, sid: str, chunks: list[bytes], *, finish: bool) -> list[Event]:
    events: list[Event] = [Started(badge, sid, "rep", time.time(), Codec.PCM16, 16000, 1, None,
                                   False)]
    events += [Chunk(badge, sid, seq, seq * 100, pcm) for seq, pcm in enumerate(chunks)]
    if finish:
        events.append(Finished(badge, sid, "final", len(chunks), 0, 0))
    return events


def crash(recorder: Recorder) -> None:
    """What a killed process leaves: appended spool bytes, no flush (its open files closed so
    the test does not leak them)."""
    for writer in recorder._writers.values():
        writer.close(sync=False)


def pcm(n: int) -> bytes:
    return bytes([n % 256]) * 3200


def test_a_burst_of_sessions_is_committed_by_one_flush(box: Box) -> None:
    recorder = box.recorder()
    sids = [uuid.uuid4().hex for _ in range(30)]
    for n, sid in enumerate(sids):
        recorder.handle(session(f"b{n}", sid, [pcm(n), pcm(n + 1)], finish=n % 2 == 0))
    assert not any(box.conversations.exists(sid) for sid in sids)  # nothing acked yet
    assert not any(box.vault.has(sid) for sid in sids)

    assert sorted(recorder.flush()) == sorted(sids)
    for n, sid in enumerate(sids):
        conversation = box.conversations.get(sid)
        assert conversation.frames == 2
        assert conversation.status == ("queued" if n % 2 == 0 else "receiving")
        assert box.audio(sid) == pcm(n) + pcm(n + 1)
    assert recorder.flush() == []  # nothing new
    recorder.close()


def test_a_session_uncommitted_at_a_crash_starts_afresh_when_resent(box: Box) -> None:
    sid = uuid.uuid4().hex
    crashed = box.recorder()
    crashed.handle(session("b1", sid, [pcm(1), pcm(2), pcm(3)], finish=False))
    crash(crashed)  # no flush: the badge never had an ack, so it sends it all again
    assert box.spool.path(sid).exists()

    restarted = box.recorder()
    restarted.handle(session("b1", sid, [pcm(1), pcm(2), pcm(3)], finish=True))
    restarted.flush()
    assert box.audio(sid) == pcm(1) + pcm(2) + pcm(3)  # once, under the new key
    assert box.conversations.get(sid).status == "queued"
    restarted.close()


def test_orphans_never_resent_are_swept_and_committed_sessions_kept(box: Box) -> None:
    kept, orphan = uuid.uuid4().hex, uuid.uuid4().hex
    recorder = box.recorder()
    recorder.handle(session("b1", kept, [pcm(1)], finish=True))
    recorder.flush()
    recorder.handle(session("b2", orphan, [pcm(2)], finish=False))
    crash(recorder)
    box.vault.store({orphan: box.keys.new_data_key(orphan.encode())[1]})  # key, no rows

    restarted = box.recorder()
    assert restarted.sweep_orphans(before=time.time() + 1) == 1
    assert not box.spool.path(orphan).exists()
    assert not box.vault.has(orphan)
    assert box.audio(kept) == pcm(1)
    assert restarted.sweep_orphans(before=time.time() + 1) == 0


def test_files_written_after_the_process_started_are_not_swept(box: Box) -> None:
    live = uuid.uuid4().hex
    recorder = box.recorder()
    recorder.handle(session("mic", live, [pcm(1)], finish=False))  # another thread's session
    assert box.recorder().sweep_orphans(before=time.time() - 60) == 0
    assert box.spool.path(live).exists()
    recorder.flush()
    assert box.audio(live) == pcm(1)
    recorder.close()


def test_an_opt_out_before_the_first_flush_leaves_no_conversation(box: Box) -> None:
    sid = uuid.uuid4().hex
    recorder = box.recorder()
    recorder.handle(session("b1", sid, [pcm(1)], finish=False))
    recorder.drop(sid)
    recorder.handle([Chunk("b1", sid, 1, 100, pcm(2))])  # still in flight: ignored
    assert recorder.flush() == []
    assert not box.conversations.exists(sid)
    assert not box.vault.has(sid)
    recorder.close()
