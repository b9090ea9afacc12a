"""The transcription worker: spooled audio → transcript and tags → sealed envelope in the outbox."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from gateway.crypto.identity import GatewayIdentity
from gateway.errors import GatewayError
from gateway.intel.talk import SPEAKERS
from gateway.privacy.access import AccessLayer
from gateway.privacy.context import PrivacyContext
from gateway.privacy.gate import TranscriptGate
from gateway.protocol.frames import Codec
from gateway.speech.audio import pcm16_to_audio, pcm16_to_channels
from gateway.speech.pipeline import SpeechPipeline
from gateway.store.conversations import DONE, FAILED, TRANSCRIBING, Conversations
from gateway.store.db import open_db, transaction
from gateway.store.erasure import HELD
from gateway.store.jobs import TRANSCRIBE, Job, JobQueue
from gateway.sync.metadata import conversation_envelope, queue_envelope
from gateway.sync.runner import OutboxSettings
from gateway.sync.sqlite_outbox import OutboxFullError, SqliteOutbox

log = logging.getLogger(__name__)

OUTBOX_FULL_WAIT_S = 30.0
"""How long a worker pauses when the upstream outbox is full before it tries again."""


@dataclass(frozen=True)
class Upstream:
    """Who signs the envelopes, whom they are sealed to (every HQ key), the outbox limits."""

    identity: GatewayIdentity
    recipients: X25519PublicKey | Sequence[X25519PublicKey]
    outbox: OutboxSettings = field(default_factory=OutboxSettings)


class TranscriptionWorker:
    """Takes transcription jobs from the queue one at a time, in its own thread.

    Content (the spooled audio, the transcript) is reached only through the privacy layer's
    :class:`~gateway.privacy.gate.TranscriptGate`, which also applies the consent policy."""

    def __init__(self, *, db_path: Path, privacy: PrivacyContext, pipeline: SpeechPipeline,
                 upstream: Upstream | None, keep_raw_audio: bool, poll_s: float = 0.5) -> None:
        self.db_path = db_path
        self.privacy = privacy
        self.pipeline = pipeline
        self.upstream = upstream
        self.keep_raw_audio = keep_raw_audio
        self.poll_s = poll_s

    def run(self, stop: threading.Event) -> None:
        db = open_db(self.db_path)
        jobs = JobQueue(db)
        conversations = Conversations(db)
        gate = TranscriptGate(AccessLayer(db, self.privacy))
        outbox = self.upstream.outbox.open(db) if self.upstream else SqliteOutbox(db)
        while not stop.is_set():
            job = jobs.claim()
            if job is None:
                stop.wait(self.poll_s)
                continue
            try:
                self.process(job, conversations, gate, outbox)
            except OutboxFullError as exc:  # not the job's fault: wait for the backlog to drain
                log.warning("conversation %s waits: %s", job.conversation_id, exc)
                jobs.complete(job.id)
                jobs.enqueue(job.kind, job.conversation_id)
                stop.wait(OUTBOX_FULL_WAIT_S)
            except GatewayError as exc:
                retry = jobs.fail(job, str(exc))
                log.error("job %d for conversation %s failed (%s): %s", job.id,
                          job.conversation_id, "will retry" if retry else "giving up", exc)
                if not retry:
                    conversations.set_status(job.conversation_id, FAILED, str(exc))
            else:
                jobs.complete(job.id)
        db.close()

    def process(self, job: Job, conversations: Conversations, gate: TranscriptGate,
                outbox: SqliteOutbox) -> None:
        if job.kind != TRANSCRIBE:
            raise GatewayError(f"unknown job kind {job.kind!r}")
        conversation = conversations.get(job.conversation_id)
        if gate.gone(conversation) or conversation.status == HELD:
            log.info("conversation %s is %s; nothing to transcribe", conversation.id,
                     conversation.status)
            return
        if conversation.status == DONE:
            log.info("conversation %s was already transcribed", conversation.id)
            return
        if self.upstream is not None and outbox.usage().level == "full":
            raise OutboxFullError("the upstream outbox is full")
        conversations.set_status(conversation.id, TRANSCRIBING)
        if conversation.codec != Codec.PCM16:
            raise GatewayError(f"codec {conversation.codec} is not supported yet")
        pcm = gate.audio(conversation)
        if conversation.channels == len(SPEAKERS):  # two-channel badge: rep, then customer
            result = self.pipeline.process_channels(
                pcm16_to_channels(pcm, conversation.sample_rate, conversation.channels), SPEAKERS)
        else:
            audio = pcm16_to_audio(pcm, conversation.sample_rate, conversation.channels)
            result = self.pipeline.process(audio)
        verdict = gate.review(conversation, result.tags)
        if verdict.outcome == "purge":
            log.info("conversation %s purged after transcription (%s)", conversation.id,
                     verdict.reason)
            return
        if self.upstream is not None and verdict.outcome == "keep":
            envelope = conversation_envelope(
                conversations.get(conversation.id), result.tags,
                gateway_id=self.upstream.identity.gateway_id,
                duration_s=result.duration_s, speech_s=result.speech_s)
            queue_envelope(outbox, envelope, identity=self.upstream.identity,
                           recipient=self.upstream.recipients)
        with transaction(conversations.db):  # no reader sees it done before its consent record
            gate.save_transcript(conversation, segments=result.segments, tags=result.tags,
                                 duration_s=result.duration_s, speech_s=result.speech_s,
                                 sentiments=result.sentiments, talk=result.talk,
                                 status=HELD if verdict.outcome == "hold" else DONE)
            gate.settle(conversation, verdict, result.identifiers)
        if not self.keep_raw_audio:
            self.privacy.spool.delete(conversation.id)
        log.info("conversation %s transcribed: %.1f s audio, %d segments, %d tags in %.1f s",
                 conversation.id, result.duration_s, len(result.segments), len(result.tags),
                 result.total_s)
