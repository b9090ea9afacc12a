"""Audit log verification and signed checkpoints.

A checkpoint states "entry ``entries`` of this gateway's log has hash ``head_hash``", signed with
the gateway's Ed25519 key over :func:`gateway.sync.schema.checkpoint_signing_input` (the same
bytes HQ verifies). The chain proves that no entry was edited, removed or reordered; the
checkpoints, verified against the gateway's *published* public key (not one stored next to the
log), prove that the log was not cut short or rewritten and re-signed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.crypto.identity import GatewayIdentity, TrustedSigner
from gateway.store.audit import GENESIS, AuditEntry, AuditLog, StoredCheckpoint, entry_hash
from gateway.sync.schema import AuditCheckpoint, checkpoint_signing_input


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of :func:`verify`; ``ok`` when there are no problems."""

    entries: int
    first_seq: int | None
    last_seq: int | None
    checkpoints: int
    head_hash: str | None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _check_chain(entries: Sequence[AuditEntry], problems: list[str]) -> None:
    previous: AuditEntry | None = None
    for entry in entries:
        if previous is not None:
            if entry.seq != previous.seq + 1:
                problems.append(f"entries {previous.seq + 1}..{entry.seq - 1} are missing "
                                f"(removed or reordered)")
            if entry.prev_hash != previous.hash:
                problems.append(f"entry {entry.seq} does not link to entry {previous.seq}")
        elif entry.seq == 1 and entry.prev_hash != GENESIS:
            problems.append("entry 1 does not start the chain")
        recomputed = entry_hash(entry.prev_hash, entry.seq, entry.at, entry.actor, entry.action,
                                entry.object, entry.detail)
        if recomputed != entry.hash:
            problems.append(f"entry {entry.seq} was altered (its hash does not match)")
        previous = entry


def _check_signature(cp: StoredCheckpoint, signer: TrustedSigner, problems: list[str]) -> bool:
    if cp.key_id != signer.key_id:
        problems.append(f"checkpoint {cp.seq} is signed by unknown key {cp.key_id}")
        return False
    message = checkpoint_signing_input(signer.gateway_id, cp.seq, cp.head_hash, cp.entries,
                                       cp.at)
    try:
        signer.public_key.verify(bytes.fromhex(cp.signature), message)
    except (InvalidSignature, ValueError):
        problems.append(f"checkpoint {cp.seq} has an invalid signature")
        return False
    return True


def verify(entries: Sequence[AuditEntry], checkpoints: Sequence[StoredCheckpoint],
           signer: TrustedSigner) -> VerifyReport:
    """Check the chain and every checkpoint against the trusted signer (pure)."""
    problems: list[str] = []
    _check_chain(entries, problems)
    by_seq = {e.seq: e for e in entries}
    first = entries[0].seq if entries else None
    last = entries[-1].seq if entries else None
    if first is not None and first > 1:
        anchored = any(cp.entries == first - 1 and cp.head_hash == entries[0].prev_hash
                       for cp in checkpoints)
        if not anchored:
            problems.append(f"entries 1..{first - 1} are missing and no checkpoint anchors "
                            f"entry {first}")
    for expected, cp in enumerate(checkpoints, start=checkpoints[0].seq if checkpoints else 1):
        if cp.seq != expected:
            problems.append(f"checkpoint {expected} is missing")
        if not _check_signature(cp, signer, problems):
            continue
        if last is None or cp.entries > last:
            problems.append(f"the log was truncated: checkpoint {cp.seq} covers entries up to "
                            f"{cp.entries}, the log ends at {last or 0}")
        elif cp.entries in by_seq and by_seq[cp.entries].hash != cp.head_hash:
            problems.append(f"entry {cp.entries} differs from what checkpoint {cp.seq} signed")
    return VerifyReport(len(entries), first, last, len(checkpoints),
                        entries[-1].hash if entries else None, problems)


def sign_checkpoint(log: AuditLog, identity: GatewayIdentity, *,
                    now: float | None = None) -> AuditCheckpoint | None:
    """Sign and store a checkpoint of the log's head, if entries were added since the last one.

    Returns the checkpoint as the envelope body HQ receives.
    """
    head = log.head()
    latest = log.latest_checkpoint()
    if head is None or (latest is not None and latest.entries >= head.seq):
        return None
    at = round(time.time() if now is None else now, 6)
    seq = (latest.seq if latest else 0) + 1
    signature = identity.sign(checkpoint_signing_input(identity.gateway_id, seq, head.hash,
                                                       head.seq, at)).hex()
    log.add_checkpoint(StoredCheckpoint(seq, head.seq, head.hash, at, identity.key_id,
                                        signature))
    return AuditCheckpoint(identity.gateway_id, seq, head.hash, head.seq, at, signature)


def signer_of(identity: GatewayIdentity) -> TrustedSigner:
    """The trusted signer for a gateway's own identity."""
    public: Ed25519PublicKey = identity.public_key()
    return TrustedSigner(identity.key_id, identity.gateway_id, public)
