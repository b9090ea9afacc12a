"""Builds the typed metadata envelopes the gateway sends HQ and queues them, sealed.

Idempotency keys are stable for the same fact, so re-queueing it (after a crash, a retry or a
re-run) never makes HQ store it twice:

* ``conversation:<conversation_id>``
* ``deletion:<reason>:<digest of the notice>``
* ``correction:<digest of the correction>``
* ``audit:<seq>:<first 16 hex digits of head_hash>`` (a re-signed, forked log gets a new key,
  so HQ sees the conflict instead of dropping it as a duplicate)
* ``health:<gateway_id>:<milliseconds of at>``
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from gateway.crypto.identity import GatewayIdentity, x25519_key_id
from gateway.intel.types import Tag
from gateway.store.conversations import Conversation
from gateway.sync.egress import check_envelope, check_size
from gateway.sync.envelope import seal
from gateway.sync.schema import (
    AuditCheckpoint,
    Body,
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    GatewayHealth,
    TagSpan,
    body_json,
    upstream_topic,
)
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


def _digest(body: Body) -> str:
    return hashlib.sha256(body_json(body)).hexdigest()[:32]


def deletion_envelope(notice: DeletionNotice) -> Envelope:
    """A deletion notice: HQ deletes its metadata about the named conversations."""
    key = f"deletion:{notice.reason}:{_digest(notice)}"
    return Envelope("deletion", key, time.time(), notice)


def correction_envelope(correction: Correction) -> Envelope:
    """A tag correction made by a person on the gateway."""
    return Envelope("correction", f"correction:{_digest(correction)}",
                    time.time(), correction)


def audit_checkpoint_envelope(checkpoint: AuditCheckpoint) -> Envelope:
    """A signed audit-log checkpoint, so HQ can detect truncation or a rewritten log."""
    key = f"audit:{checkpoint.seq}:{checkpoint.head_hash[:16]}"
    return Envelope("audit_checkpoint", key, time.time(), checkpoint)


def health_envelope(health: GatewayHealth) -> Envelope:
    """A periodic health report."""
    key = f"health:{health.gateway_id}:{round(health.at * 1000)}"
    return Envelope("health", key, time.time(), health)


def outbox_key(envelope: Envelope, recipient: X25519PublicKey) -> str:
    """The outbox row key: one sealed copy per envelope and HQ recipient key."""
    return f"{envelope.idempotency_key}>{x25519_key_id(recipient)}"


def queue_envelope(outbox: SqliteOutbox, envelope: Envelope, *, identity: GatewayIdentity,
                   recipient: X25519PublicKey | Sequence[X25519PublicKey]) -> bool:
    """Seal an envelope to each HQ recipient key and persist the copies in the outbox, in one
    transaction. Returns False if every copy was already queued.

    Raises EgressError if the envelope is not a typed metadata envelope or a sealed copy exceeds
    the size cap, OutboxFullError if the outbox is at its quota (nothing is queued then).
    """
    return queue_envelopes(outbox, [envelope], identity=identity, recipient=recipient) > 0


def queue_envelopes(outbox: SqliteOutbox, envelopes: Sequence[Envelope], *,
                    identity: GatewayIdentity,
                    recipient: X25519PublicKey | Sequence[X25519PublicKey]) -> int:
    """:func:`queue_envelope` for several envelopes in one transaction (one fsync); returns how
    many envelopes were newly queued. All or nothing."""
    recipients = [recipient] if isinstance(recipient, X25519PublicKey) else list(recipient)
    if not recipients:
        raise ValueError("at least one HQ recipient key is needed")
    topic = upstream_topic(identity.gateway_id)
    batch = []
    for envelope in envelopes:
        check_envelope(envelope)
        rows = []
        for key in recipients:
            payload = seal(envelope, identity=identity, recipient_public_key=key)
            check_size(payload, max_bytes=outbox.max_envelope_bytes)
            rows.append((outbox_key(envelope, key), payload))
        ids = envelope.conversation_ids
        batch.append((rows, ids[0] if len(ids) == 1 else None))
    return outbox.add_batches(batch, topic=topic)
