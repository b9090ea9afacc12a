"""Turns assembler events into stored conversations: encrypted spool files and queued jobs.

Durability is a group commit: chunks are appended to the spool as they are released, and
sessions that start or finish are only noted. :meth:`Recorder.flush` then makes it all durable at
once: one filesystem sync (fsync per policy), one key-vault transaction for the new sessions'
data keys, and one database transaction that creates the new conversations, records each
session's progress (``next_seq`` and the spool's record count) and finishes and queues the ended
ones. Only what a flush returned may be acked, so a burst of badges starting together costs one
commit, not one per badge. After a crash, :meth:`Recorder.recover` cuts each spool file back to
its recorded record count and resumes the session in the assembler at its recorded ``next_seq``:
frames past it were never acked, so the badge sends them again, and nothing is stored twice. A
session whose start was never committed starts afresh when the badge sends it again;
:meth:`Recorder.sweep_orphans` removes the spool files and keys of those it never sends again.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import sqlite_utils

from gateway.crypto.datakeys import KeyStore
from gateway.ingest.codecs import Decoder, decoder_for, spool_format
from gateway.protocol.assembler import Assembler, Chunk, Event, Finished, Gap, Started
from gateway.protocol.control import SessionStart
from gateway.protocol.errors import ProtocolError
from gateway.protocol.frames import Codec
from gateway.store.conversations import RECEIVING, Conversations
from gateway.store.db import transaction
from gateway.store.jobs import TRANSCRIBE, JobQueue
from gateway.store.keyvault import KeyVault
from gateway.store.spool import AudioSpool, SpoolWriter

log = logging.getLogger(__name__)

REMEMBER_FINISHED = 1024
RECORD_OVERHEAD = 32  # length prefix, nonce and tag of a sealed spool record
PROCESS_STARTED = time.time()  #: spool files and keys older than this predate every recorder


def sync_filesystem(directory: Path) -> bool:
    """Flush every file of ``directory``'s filesystem to disk in one call (Linux ``syncfs``):
    one journal commit instead of one per busy session. False where it is not available."""
    libc = ctypes.CDLL(None, use_errno=True)
    if not hasattr(libc, "syncfs"):
        return False
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return bool(libc.syncfs(fd) == 0)
    finally:
        os.close(fd)


@dataclass
class _Progress:
    """What a session has appended since its last flush."""

    badge_id: str
    next_seq: int = 0
    records: int = 0
    frames: int = 0
    audio_bytes: int = 0
    dirty: bool = False


@dataclass
class _Opening:
    """A session started since the last flush: the flush stores its key and creates its rows."""

    event: Started
    wrapped_key: bytes


@dataclass
class _Closing:
    """A session ended since the last flush: the flush syncs its file, finishes and queues it."""

    event: Finished
    writer: SpoolWriter | None


class Recorder:
    """Persists what the assembler releases. Owned by one thread (ingest or capture)."""

    def __init__(self, *, site: str, keys: KeyStore, conversations: Conversations,
                 jobs: JobQueue, spool: AudioSpool, fsync: bool = True,
                 vault: KeyVault | None = None,
                 on_started: Callable[[Started], None] | None = None) -> None:
        self.site = site
        self.keys = keys
        self.conversations = conversations
        self.jobs = jobs
        self.spool = spool
        self.fsync = fsync
        self.vault = vault  #: where data keys live (else wrapped in the conversation row)
        self.on_started = on_started  #: privacy bookkeeping of customer ref and consent flag
        self._dropped: dict[str, None] = {}  # opted-out sessions: their events are ignored
        self.written_bytes = 0  #: sealed bytes appended since start, for the disk quota
        self.decode_errors: dict[str, int] = {}
        self._writers: dict[str, SpoolWriter] = {}
        self._decoders: dict[str, Decoder] = {}
        self._progress: dict[str, _Progress] = {}
        self._opening: dict[str, _Opening] = {}
        self._closing: dict[str, _Closing] = {}

    def handle(self, events: Iterable[Event]) -> None:
        for event in events:
            if event.session_id in self._dropped:
                continue
            if isinstance(event, Started):
                self._start(event)
            elif isinstance(event, Chunk):
                self._chunk(event)
            elif isinstance(event, Gap):
                log.warning("conversation %s misses frames %d-%d", event.session_id,
                            event.first_missing, event.last_missing)
                progress = self._progress.get(event.session_id)
                if progress is not None:
                    progress.next_seq, progress.dirty = event.last_missing + 1, True
            elif isinstance(event, Finished):
                self._finish(event)

    def _start(self, event: Started) -> None:
        sid = event.session_id
        opening = self._opening.get(sid)
        if opening is not None:  # a start message that arrived after the first frames
            opening.event = replace(opening.event, rep_id=event.rep_id,
                                    started_at=event.started_at,
                                    consent_declared=event.consent_declared,
                                    customer_ref=event.customer_ref)
            return
        if self.conversations.exists(sid):
            # a start message that arrived after the first frames: keep what it tells us
            self.conversations.update_start(
                sid, rep_id=event.rep_id, started_at=event.started_at,
                consent_declared=event.consent_declared)
            if self.on_started is not None:
                self.on_started(event)
            return
        data_key, wrapped = self.keys.new_data_key(sid.encode())
        self.spool.delete(sid)  # left by an attempt never committed: the badge sends it again
        self._opening[sid] = _Opening(event, wrapped)
        self._writers[sid] = self.spool.writer(sid, data_key)
        self._decoders[sid] = decoder_for(event.codec, event.channels)
        self._progress[sid] = _Progress(event.badge_id)

    def _chunk(self, event: Chunk) -> None:
        sid = event.session_id
        try:
            pcm = self._decoder(sid).decode(event.payload)
        except ProtocolError as exc:  # a packet that passed the checks but libopus refused
            self.decode_errors[event.badge_id] = self.decode_errors.get(event.badge_id, 0) + 1
            log.warning("conversation %s: frame %d dropped: %s", sid, event.seq, exc)
            pcm = b""
        progress = self._progress.setdefault(sid, _Progress(event.badge_id))
        if pcm:
            self._writer(sid).append(pcm)
            progress.records += 1
            self.written_bytes += len(pcm) + RECORD_OVERHEAD
        progress.next_seq = event.seq + 1
        progress.frames += 1
        progress.audio_bytes += len(pcm)
        progress.dirty = True

    def _decoder(self, conversation_id: str) -> Decoder:
        decoder = self._decoders.get(conversation_id)
        if decoder is None:
            row = self.conversations.db.execute(
                "SELECT codec, channels FROM ingest_sessions WHERE conversation_id = ?",
                [conversation_id]).fetchone()
            codec, channels = (Codec(row[0]), row[1]) if row else (Codec.PCM16, 1)
            decoder = self._decoders[conversation_id] = decoder_for(codec, channels)
        return decoder

    def _writer(self, conversation_id: str) -> SpoolWriter:
        writer = self._writers.get(conversation_id)
        if writer is None:
            conversation = self.conversations.get(conversation_id)
            if self.vault is not None:
                data_key = self.vault.key_for(conversation)
            else:
                data_key = self.keys.unwrap(conversation.wrapped_key or b"",
                                            context=conversation_id.encode())
            writer = self._writers[conversation_id] = self.spool.writer(conversation_id, data_key)
        return writer

    def flush(self) -> list[str]:
        """Make what was appended, started and finished durable; returns the sessions flushed.

        On an error nothing is forgotten: the next flush tries again.
        """
        dirty = [(sid, p) for sid, p in self._progress.items() if p.dirty]
        opening, closing = self._opening, self._closing
        if not (dirty or opening or closing):
            return []
        if self.fsync:
            sessions = dict.fromkeys([*(sid for sid, _ in dirty), *opening])
            writers = [self._writers[sid] for sid in sessions if sid in self._writers]
            writers += [end.writer for end in closing.values() if end.writer is not None]
            self._sync_files(writers)
        for ending in closing.values():
            if ending.writer is not None:
                ending.writer.close(sync=False)
                ending.writer = None
        if self.vault is not None and opening:
            self.vault.store({sid: new.wrapped_key for sid, new in opening.items()},
                             replace=True)
        with transaction(self.conversations.db) as db:
            for new in opening.values():
                self._create(db, new)
            for sid, progress in dirty:
                self._record(db, sid, progress)
            for sid, ending in closing.items():
                event = ending.event
                self.conversations.finish(sid, ended_at=time.time(), reason=event.reason,
                                          duplicates=event.duplicates, gaps=event.gaps)
                self.jobs.enqueue(TRANSCRIBE, sid)
        for _, progress in dirty:
            progress.frames = progress.audio_bytes = progress.records = 0
            progress.dirty = False
        self._opening, self._closing = {}, {}
        for new in opening.values():
            if self.on_started is not None:
                self.on_started(new.event)
            log.info("conversation %s started on badge %s", new.event.session_id,
                     new.event.badge_id)
        for sid, ending in closing.items():
            self._progress.pop(sid, None)
            log.info("conversation %s finished (%s, %d frames, %d gaps); transcription queued",
                     sid, ending.event.reason, ending.event.frames, ending.event.gaps)
        return list(dict.fromkeys([sid for sid, _ in dirty] + list(opening) + list(closing)))

    def _sync_files(self, writers: list[SpoolWriter]) -> None:
        """Force spool files to disk: one filesystem sync for several."""
        if len(writers) < 2 or not sync_filesystem(self.spool.directory):
            for writer in writers:
                writer.sync()

    def _create(self, db: sqlite_utils.Database, item: _Opening) -> None:
        event = item.event
        codec, rate = spool_format(event.codec, event.sample_rate)
        self.conversations.create(
            id=event.session_id, badge_id=event.badge_id, rep_id=event.rep_id,
            site=self.site, started_at=event.started_at, codec=int(codec), sample_rate=rate,
            channels=event.channels,
            wrapped_key=None if self.vault is not None else item.wrapped_key,
            consent_declared=event.consent_declared)
        db.execute("INSERT INTO ingest_sessions (conversation_id, badge_id, codec, "
                   "sample_rate, channels, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                   [event.session_id, event.badge_id, int(event.codec), event.sample_rate,
                    event.channels, time.time()])

    @staticmethod
    def _record(db: sqlite_utils.Database, sid: str, progress: _Progress) -> None:
        """Add a session's appended frames to its counters and record how far it got."""
        db.execute("UPDATE conversations SET frames = frames + ?, audio_bytes = audio_bytes + ? "
                   "WHERE id = ?", [progress.frames, progress.audio_bytes, sid])
        db.execute("UPDATE ingest_sessions SET next_seq = ?, spool_records = spool_records + ?, "
                   "updated_at = ? WHERE conversation_id = ?",
                   [progress.next_seq, progress.records, time.time(), sid])

    def _finish(self, event: Finished) -> None:
        """Note a finished session: the next flush syncs its file, then finishes and queues it."""
        self._decoders.pop(event.session_id, None)
        self._closing[event.session_id] = _Closing(event, self._writers.pop(event.session_id,
                                                                            None))

    def recover(self, assembler: Assembler | None = None, now: float | None = None, *,
                only: frozenset[str] | None = None, skip: frozenset[str] = frozenset()) -> int:
        """Take up receptions a restart interrupted; returns how many.

        With an assembler, each one with recorded progress is resumed there (its spool cut back
        to what was acked) and recently finished sessions are remembered as such; the rest are
        finished and queued for transcription, as they are without an assembler. ``only`` and
        ``skip`` choose badges (another thread may own some, like the local microphone's).
        """
        now = time.time() if now is None else now
        resumed = 0
        for conversation in self.conversations.in_status(RECEIVING):
            if conversation.badge_id in skip or (only is not None
                                                  and conversation.badge_id not in only):
                continue
            row = self.conversations.db.execute(
                "SELECT codec, sample_rate, channels, next_seq, spool_records "
                "FROM ingest_sessions WHERE conversation_id = ?", [conversation.id]).fetchone()
            if assembler is None or row is None:
                self.conversations.finish(conversation.id, ended_at=now, reason="restart",
                                          duplicates=conversation.duplicates,
                                          gaps=conversation.gaps)
                self.jobs.enqueue(TRANSCRIBE, conversation.id)
                continue
            codec, rate, channels, next_seq, records = row
            self.spool.truncate(conversation.id, records)
            start = SessionStart(conversation.id, conversation.rep_id, conversation.started_at,
                                 Codec(codec), rate, channels,
                                 consent_declared=conversation.consent_declared)
            assembler.resume(conversation.badge_id, start, next_seq, now)
            self._progress[conversation.id] = _Progress(conversation.badge_id, next_seq)
            resumed += 1
        if assembler is not None:
            finished = self.conversations.db.execute(
                "SELECT badge_id, id FROM conversations WHERE status != ? "
                "ORDER BY received_at DESC LIMIT ?", [RECEIVING, REMEMBER_FINISHED]).fetchall()
            for badge_id, conversation_id in reversed(finished):
                assembler.remember(badge_id, conversation_id, None)
        return resumed

    def drop(self, conversation_id: str) -> None:
        """Stop recording a session (the customer opted out): close its spool file, forget its
        progress, and ignore whatever the assembler still releases for it."""
        self._dropped[conversation_id] = None
        while len(self._dropped) > REMEMBER_FINISHED:
            del self._dropped[next(iter(self._dropped))]
        self._progress.pop(conversation_id, None)
        self._decoders.pop(conversation_id, None)
        self._opening.pop(conversation_id, None)  # its key was never stored
        closing = self._closing.pop(conversation_id, None)
        for writer in (self._writers.pop(conversation_id, None),
                       closing.writer if closing else None):
            if writer is not None:
                writer.close(sync=False)

    def sweep_orphans(self, before: float = PROCESS_STARTED) -> int:
        """Remove spool files and data keys, last touched ``before``, of sessions whose start was
        never committed (a crash came first, and the badge never sent them again); returns how
        many conversations that cleared."""
        orphans = {sid for sid in self.spool.untouched_since(before)
                   if not self.conversations.exists(sid)}
        if self.vault is not None:
            orphans |= {sid for sid in self.vault.created_before(before)
                        if not self.conversations.exists(sid)}
        for sid in orphans:
            self.spool.delete(sid)
            if self.vault is not None:
                self.vault.destroy(sid)
        if orphans:
            log.info("removed the audio of %d sessions whose start was never recorded",
                     len(orphans))
        return len(orphans)

    def close(self) -> None:
        self.flush()
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
