"""Turns assembler events into stored conversations: encrypted spool files and queued jobs."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from gateway.crypto.datakeys import KeyStore
from gateway.protocol.assembler import Chunk, Event, Finished, Gap, Started
from gateway.store.conversations import RECEIVING, Conversations
from gateway.store.jobs import TRANSCRIBE, JobQueue
from gateway.store.spool import AudioSpool, SpoolWriter

log = logging.getLogger(__name__)


class Recorder:
    """Persists what the assembler releases. Owned by the single ingest thread."""

    def __init__(self, *, site: str, keys: KeyStore, conversations: Conversations,
                 jobs: JobQueue, spool: AudioSpool) -> None:
        self.site = site
        self.keys = keys
        self.conversations = conversations
        self.jobs = jobs
        self.spool = spool
        self._writers: dict[str, SpoolWriter] = {}

    def handle(self, events: Iterable[Event]) -> None:
        for event in events:
            if isinstance(event, Started):
                self._start(event)
            elif isinstance(event, Chunk):
                self._writer(event.session_id).append(event.payload)
                self.conversations.add_audio(event.session_id, 1, len(event.payload))
            elif isinstance(event, Gap):
                log.warning("conversation %s misses frames %d-%d", event.session_id,
                            event.first_missing, event.last_missing)
            elif isinstance(event, Finished):
                self._finish(event)

    def _start(self, event: Started) -> None:
        if self.conversations.exists(event.session_id):
            # a start message that arrived after the first frames: keep what it tells us
            self.conversations.update_start(
                event.session_id, rep_id=event.rep_id, started_at=event.started_at,
                consent_declared=event.consent_declared)
            return
        data_key, wrapped = self.keys.new_data_key(event.session_id.encode())
        self.conversations.create(
            id=event.session_id, badge_id=event.badge_id, rep_id=event.rep_id, site=self.site,
            started_at=event.started_at, codec=int(event.codec), sample_rate=event.sample_rate,
            channels=event.channels, wrapped_key=wrapped,
            consent_declared=event.consent_declared)
        self._writers[event.session_id] = self.spool.writer(event.session_id, data_key)
        log.info("conversation %s started on badge %s", event.session_id, event.badge_id)

    def _writer(self, conversation_id: str) -> SpoolWriter:
        writer = self._writers.get(conversation_id)
        if writer is None:
            wrapped = self.conversations.get(conversation_id).wrapped_key or b""
            data_key = self.keys.unwrap(wrapped, context=conversation_id.encode())
            writer = self._writers[conversation_id] = self.spool.writer(conversation_id, data_key)
        return writer

    def _finish(self, event: Finished) -> None:
        writer = self._writers.pop(event.session_id, None)
        if writer is not None:
            writer.close()
        self.conversations.finish(event.session_id, ended_at=time.time(), reason=event.reason,
                                  duplicates=event.duplicates, gaps=event.gaps)
        self.jobs.enqueue(TRANSCRIBE, event.session_id)
        log.info("conversation %s finished (%s, %d frames, %d gaps); transcription queued",
                 event.session_id, event.reason, event.frames, event.gaps)

    def recover(self) -> int:
        """Queue conversations whose reception a restart interrupted; returns how many."""
        stale = self.conversations.in_status(RECEIVING)
        for conversation in stale:
            self.conversations.finish(conversation.id, ended_at=time.time(), reason="restart",
                                      duplicates=conversation.duplicates, gaps=conversation.gaps)
            self.jobs.enqueue(TRANSCRIBE, conversation.id)
        return len(stale)

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
