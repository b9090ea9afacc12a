"""Audit-checkpoint continuity at HQ (pure): a gateway's checkpoints must describe one growing
hash chain. Problems found:

* ``fork``: two checkpoints with the same ``seq`` but a different head or length;
* ``truncated``: a later checkpoint (higher ``seq``) covers fewer entries than an earlier one;
* ``rewritten``: two checkpoints cover the same number of entries with different heads;
* ``time_reversed``: a later checkpoint is dated before an earlier one;
* ``bad_signature`` / ``unknown_audit_key``: the checkpoint signature does not verify against
  the gateway's audit key HQ trusts (only checked when HQ has audit keys configured).

A gap in ``seq`` is not a problem by itself: envelopes may arrive out of order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.sync.schema import AuditCheckpoint, checkpoint_signing_input

AuditKeyLookup = Callable[[str], list[Ed25519PublicKey]]
"""``gateway_id -> the audit public keys HQ trusts for it`` (empty: none known)."""


@dataclass(frozen=True, slots=True)
class Known:
    """A checkpoint HQ already holds for the same gateway."""

    seq: int
    head_hash: str
    entries: int
    at: float


def signature_problem(cp: AuditCheckpoint, keys: list[Ed25519PublicKey]) -> str | None:
    """``None`` if one of ``keys`` signed ``cp``; otherwise the problem name."""
    if not keys:
        return "unknown_audit_key"
    data = checkpoint_signing_input(cp.gateway_id, cp.seq, cp.head_hash, cp.entries, cp.at)
    signature = bytes.fromhex(cp.signature)
    for key in keys:
        try:
            key.verify(signature, data)
        except InvalidSignature:
            continue
        return None
    return "bad_signature"


def continuity_problems(cp: AuditCheckpoint, known: Iterable[Known]) -> list[str]:
    """What ``cp`` contradicts among the checkpoints HQ already holds for its gateway."""
    problems: list[str] = []
    for old in known:
        if old.seq == cp.seq:
            if (old.head_hash, old.entries) != (cp.head_hash, cp.entries):
                problems.append("fork")
            continue
        earlier, later = (old, cp) if old.seq < cp.seq else (cp, old)
        if later.entries < earlier.entries:
            problems.append("truncated")
        elif later.entries == earlier.entries and later.head_hash != earlier.head_hash:
            problems.append("rewritten")
        if later.at < earlier.at:
            problems.append("time_reversed")
    return sorted(set(problems))
