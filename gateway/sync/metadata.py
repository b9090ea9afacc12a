"""Builds the metadata envelope for a transcribed conversation and queues it, sealed."""

from __future__ import annotations

import time
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from gateway.crypto.identity import GatewayIdentity
from gateway.intel.types import Tag
from gateway.store.conversations import Conversation
from gateway.sync.envelope import seal
from gateway.sync.schema import ConversationMetadata, Envelope, TagSpan, upstream_topic
from gateway.sync.sqlite_outbox import SqliteOutbox


def conversation_envelope(conversation: Conversation, tags: Sequence[Tag], *,
                          gateway_id: str, duration_s: float, speech_s: float) -> Envelope:
    """The metadata HQ may learn about a conversation: ids, times and tag spans, no text."""
    ended_at = max(conversation.ended_at or conversation.started_at, conversation.started_at)
    body = ConversationMetadata(
        conversation_id=conversation.id, gateway_id=gateway_id, site=conversation.site,
        badge_id=conversation.badge_id, rep_id=conversation.rep_id,
        started_at=conversation.started_at, ended_at=ended_at,
        duration_s=duration_s, speech_s=speech_s, gaps=conversation.gaps,
        tags=tuple(TagSpan(t.tag, round(t.start, 3), round(max(t.end, t.start), 3),
                           round(t.confidence, 3)) for t in tags))
    return Envelope(kind="conversation", idempotency_key=f"conversation:{conversation.id}",
                    created_at=time.time(), body=body)


def queue_envelope(outbox: SqliteOutbox, envelope: Envelope, *, identity: GatewayIdentity,
                   recipient: X25519PublicKey) -> bool:
    """Seal an envelope and persist it in the outbox; False if its key was already queued."""
    return outbox.add(idempotency_key=envelope.idempotency_key,
                      topic=upstream_topic(identity.gateway_id),
                      payload=seal(envelope, identity=identity, recipient_public_key=recipient),
                      conversation_id=envelope.body.conversation_id)
