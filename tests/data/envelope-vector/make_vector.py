"""Regenerate the envelope test vector and the blocks of docs/envelope.md that show it.

Run from the repository root: ``.venv/bin/python tests/data/envelope-vector/make_vector.py``.
Keys are derived from fixed labels, so only the sealed blob changes (HPKE is randomized).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gateway.crypto.identity import GatewayIdentity, x25519_key_id
from gateway.sync.envelope import b64url, hpke_info, seal
from gateway.sync.metadata import (
    audit_checkpoint_envelope,
    correction_envelope,
    deletion_envelope,
    health_envelope,
)
from gateway.sync.schema import (
    AuditCheckpoint,
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    GatewayHealth,
    TagSpan,
    checkpoint_signing_input,
    to_json,
)

HERE = Path(__file__).parent
DOC = Path("docs/envelope.md")
RAW = serialization.Encoding.Raw, serialization.PublicFormat.Raw
PKCS8 = (
    serialization.Encoding.PEM,
    serialization.PrivateFormat.PKCS8,
    serialization.NoEncryption(),
)


def seed(label: str) -> bytes:
    return hashlib.sha256(f"salestag envelope test vector: {label}".encode()).digest()


def vector_envelope() -> Envelope:
    body = ConversationMetadata(
        conversation_id="c-20250301-0001",
        gateway_id="gw-test-01",
        site="store-042",
        badge_id="badge-7",
        rep_id="rep-1138",
        started_at=1740823200.0,
        ended_at=1740823512.5,
        duration_s=312.5,
        speech_s=241.25,
        tags=(
            TagSpan("pricing", 12.0, 31.5, 0.92),
            TagSpan("next_steps", 290.25, 305.0, 0.8),
        ),
        gaps=1,
    )
    return Envelope("conversation", "conversation:c-20250301-0001", 1740823520.0, body)


def other_kinds() -> list[Envelope]:
    """One plaintext of each further kind, with the idempotency keys the gateway would use."""
    audit = Ed25519PrivateKey.from_private_bytes(seed("audit"))
    head = hashlib.sha256(b"salestag envelope test vector: audit head").hexdigest()
    at = 1740830400.0
    signature = audit.sign(checkpoint_signing_input("gw-test-01", 7, head, 1234, at)).hex()
    deletion = DeletionNotice(("c-20250301-0001", "c-20250301-0002"), "subject_request",
                              1740830000.0, "gw-test-01", hashlib.sha256(b"subject").hexdigest())
    correction = Correction("c-20250301-0001", "gw-test-01", "pricing", "change", 12.0, 31.5,
                            "objection.price", "user-17", 1740830100.0)
    envelopes = [
        deletion_envelope(deletion),
        correction_envelope(correction),
        audit_checkpoint_envelope(AuditCheckpoint("gw-test-01", 7, head, 1234, at, signature)),
        health_envelope(GatewayHealth("gw-test-01", 1740830500.0, 86400.0, 3, 61.25, 1, 4)),
    ]
    return [Envelope(e.kind, e.idempotency_key, 1740830600.0, e.body) for e in envelopes]


def checkpoint_vector() -> dict[str, str]:
    """The audit key, the bytes a checkpoint signature covers, and the signature."""
    audit = Ed25519PrivateKey.from_private_bytes(seed("audit"))
    head = hashlib.sha256(b"salestag envelope test vector: audit head").hexdigest()
    data = checkpoint_signing_input("gw-test-01", 7, head, 1234, 1740830400.0)
    return {
        "audit_public_key_hex": audit.public_key().public_bytes(*RAW).hex(),
        "audit_signing_seed_hex": seed("audit").hex(),
        "signature_hex": audit.sign(data).hex(),
        "signing_input": data.decode("ascii"),
    }


def write_other_kinds() -> dict[str, str]:
    """Write the further-kinds vector files; returns {name: text}."""
    files = {
        "other-kinds.jsonl": "".join(to_json(e).decode() + "\n" for e in other_kinds()),
        "audit-checkpoint.json": json.dumps(checkpoint_vector(), indent=2, sort_keys=True) + "\n",
    }
    for name, text in files.items():
        (HERE / name).write_text(text)
    return files


def update_doc(files: dict[str, str]) -> None:
    """Replace each file's block in docs/envelope.md."""
    doc = DOC.read_text()
    for name, text in files.items():
        pattern = re.compile(
            rf"(<!-- file: tests/data/envelope-vector/{re.escape(name)} -->\n```[a-z]*\n)"
            r".*?(```\n)",
            re.S,
        )
        doc, found = pattern.subn(lambda m, t=text: m.group(1) + t + m.group(2), doc)
        if not found:
            raise SystemExit(f"{DOC} has no block for {name}")
    DOC.write_text(doc)


def main() -> None:
    tenant = X25519PrivateKey.from_private_bytes(seed("tenant"))
    signing = Ed25519PrivateKey.from_private_bytes(seed("gateway"))
    identity = GatewayIdentity(signing, "gw-test-01")
    envelope = vector_envelope()
    blob = seal(envelope, identity=identity, recipient_public_key=tenant.public_key())
    header = json.loads(blob)["hdr"]
    keys = {
        "gateway_id": identity.gateway_id,
        "gateway_key_id": identity.key_id,
        "gateway_public_key_hex": identity.public_key_bytes().hex(),
        "gateway_signing_seed_hex": seed("gateway").hex(),
        "header_b64url": header,
        "header_json": json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))),
        "hpke_info": hpke_info(identity.gateway_id).decode(),
        "tenant_key_id": x25519_key_id(tenant),
        "tenant_private_key_hex": seed("tenant").hex(),
        "tenant_public_key_hex": tenant.public_key().public_bytes(*RAW).hex(),
    }
    assert b64url(b"") == ""
    files = {
        "keys.json": json.dumps(keys, indent=2, sort_keys=True) + "\n",
        "plaintext.json": to_json(envelope).decode() + "\n",
        "sealed.json": blob.decode() + "\n",
        "tenant-private.pem": tenant.private_bytes(*PKCS8).decode(),
        "tenant-public.pem": tenant.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode(),
    }
    for name, text in files.items():
        (HERE / name).write_text(text)
    (HERE / "gateway-signer.json").unlink(missing_ok=True)
    identity.export_public(HERE / "gateway-signer.json")
    files["gateway-signer.json"] = (HERE / "gateway-signer.json").read_text()
    update_doc({**files, **write_other_kinds()})


if __name__ == "__main__":
    main()
