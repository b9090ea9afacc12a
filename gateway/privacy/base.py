"""The access layer's foundation: connections, audit bookkeeping and crypto-shredding."""

from __future__ import annotations

import logging
import re
from typing import Any

import sqlite_utils

from gateway.privacy.context import PrivacyContext
from gateway.privacy.errors import BadActor, ContentGone
from gateway.store.audit import AuditLog
from gateway.store.consent import PURGED as LEDGER_PURGED
from gateway.store.consent import ConsentLedger
from gateway.store.conversations import Conversation, Conversations
from gateway.store.corrections import Corrections
from gateway.store.erasure import CONTENT_GONE, DELETED, PURGED, Erasure
from gateway.store.errors import NotFound
from gateway.store.subjects import SubjectRefs
from gateway.sync.schema import DeletionNotice

log = logging.getLogger(__name__)

ACTOR = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")


def check_actor(actor: str) -> str:
    if not isinstance(actor, str) or not ACTOR.fullmatch(actor):
        raise BadActor("an actor is 1-128 of letters, digits and . _ : @ - (e.g. user:alice)")
    return actor


class AccessBase:
    """Repositories over one database connection, and the shared privacy context."""

    def __init__(self, db: sqlite_utils.Database, ctx: PrivacyContext) -> None:
        self.db = db
        self.ctx = ctx
        self.conversations = Conversations(db)
        self.audit = AuditLog(db)
        self.ledger = ConsentLedger(db)
        self.subjects = SubjectRefs(db)
        self.erasure = Erasure(db)
        self.corrections = Corrections(db)

    def _log(self, actor: str, action: str, object: str, /, **detail: Any) -> None:
        self.audit.append(actor=check_actor(actor), action=action, object=object,
                          detail=detail, at=self.ctx.clock())

    def _log_read(self, actor: str, action: str, object: str, /, *, content: bool,
                  **detail: Any) -> None:
        """Audit a read. ``content`` says whether conversation content (transcript text, tag
        evidence, disclosure words) was decrypted for the actor; every read entry carries it."""
        self._log(actor, action, object, content=content, **detail)

    def _get(self, conversation_id: str) -> Conversation:
        return self.conversations.get(conversation_id)

    def _data_key(self, conversation: Conversation) -> bytes:
        """The conversation's data key; ContentGone once it was destroyed.

        Private on purpose: key material never leaves the privacy layer, so every read of
        content is one of its audited methods (or the transcription gate's own use)."""
        if conversation.status in CONTENT_GONE:
            raise ContentGone(f"the content of conversation {conversation.id} was deleted")
        try:
            return self.ctx.vault.key_for(conversation)
        except NotFound:
            raise ContentGone(f"the content of conversation {conversation.id} was deleted "
                              "(its data key is destroyed)") from None

    def _sent_upstream(self, conversation_id: str) -> bool:
        return self.db.execute(
            "SELECT 1 FROM outbox WHERE conversation_id = ? AND idempotency_key LIKE "
            "'conversation:%' LIMIT 1", [conversation_id]).fetchone() is not None

    def _queue(self, envelope: Any) -> bool:
        upstream = self.ctx.upstream
        if upstream is None:
            return False
        from gateway.sync.metadata import queue_envelope
        from gateway.sync.sqlite_outbox import SqliteOutbox

        return bool(queue_envelope(SqliteOutbox(self.db), envelope, identity=upstream.identity,
                                   recipient=list(upstream.recipients)))

    def _queue_notice(self, ids: tuple[str, ...], reason: str, ref: str | None) -> bool:
        if self.ctx.upstream is None or (not ids and ref is None):
            return False
        from gateway.sync.metadata import deletion_envelope

        notice = DeletionNotice(conversation_ids=ids, reason=reason,  # type: ignore[arg-type]
                                requested_at=self.ctx.clock(), gateway_id=self.ctx.gateway_id,
                                subject_ref=ref)
        return self._queue(deletion_envelope(notice))

    def _shred(self, actor: str, conversation_id: str, *, status: str, reason: str) -> bool:
        """Destroy the key, the audio and the content rows; returns whether HQ had metadata."""
        conversation = self._get(conversation_id)
        sent = self._sent_upstream(conversation_id)
        key_destroyed = self.ctx.vault.destroy(conversation_id)
        audio = self.ctx.spool.delete(conversation_id)
        now = self.ctx.clock()
        if status == PURGED:
            self.ledger.record(conversation_id, LEDGER_PURGED, at=now, source="policy",
                               policy=self.ctx.consent.jurisdiction,
                               disclosure_version=self.ctx.consent.disclosure_version)
        self.erasure.erase(conversation_id, status=status, reason=reason, actor=actor, at=now)
        self._log(actor, "conversation.delete" if status == DELETED else "conversation.purge",
                  f"conversation:{conversation_id}", reason=reason, key_destroyed=key_destroyed,
                  audio_deleted=audio, previous_status=conversation.status)
        log.info("conversation %s %s (%s)", conversation_id, status, reason)
        return sent

