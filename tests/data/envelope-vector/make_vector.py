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
from gateway.sync.schema import ConversationMetadata, Envelope, TagSpan, to_json

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


if __name__ == "__main__":
    main()
