"""Sealed envelopes: canonical JSON, HPKE-encrypted to the tenant, signed by the gateway.

A sealed blob is one canonical JSON object ``{"ct":..,"hdr":..,"sig":..}`` whose values are
unpadded base64url; ``docs/envelope.md`` specifies it byte for byte. Opening verifies the
signature first, then the recipient, then decrypts and parses the plaintext strictly.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from gateway.crypto.errors import IntegrityError
from gateway.crypto.identity import GatewayIdentity, x25519_key_id
from gateway.sync.schema import (
    AuditCheckpoint,
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    EnvelopeError,
    GatewayHealth,
    TagSpan,
    canonical_json,
    checkpoint_signing_input,
    from_json,
    strict_loads,
    to_json,
    topic_gateway_id,
    upstream_topic,
)

FORMAT = "salestag-envelope"
FORMAT_VERSION = 1
MAX_SEALED = 128 * 1024
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
SignerLookup = Callable[[str, str], Ed25519PublicKey | None]
"""``(signer_key_id, gateway_id) -> key or None``: HQ can bind each key to its gateway."""

_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_HEADER_FIELDS = {"format", "version", "gateway_id", "signer_key_id", "recipient_key_id"}


class UnknownSignerError(IntegrityError):
    """The envelope is signed by a key that is not trusted (for that gateway)."""


@dataclass(frozen=True, slots=True)
class SealedHeader:
    """The signed, unencrypted header of a sealed envelope."""

    format: str
    version: int
    gateway_id: str
    signer_key_id: str
    recipient_key_id: str


def hpke_info(gateway_id: str, version: int = FORMAT_VERSION) -> bytes:
    """The HPKE ``info``: binds the format version and the sending gateway."""
    return f"{FORMAT}/v{version}:{gateway_id}".encode("ascii")


def signing_input(hdr: str, ct: str) -> bytes:
    """The bytes the Ed25519 signature covers: the header and ciphertext exactly as sent."""
    return f"{FORMAT}.{hdr}.{ct}".encode("ascii")


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(name: str, text: object) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise IntegrityError(f"{name} is not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise IntegrityError(f"{name} is not valid base64url") from None
    if b64url(data) != text:  # unused trailing bits set: a second spelling of the same bytes
        raise IntegrityError(f"{name} is not canonical base64url")
    return data


@functools.lru_cache(maxsize=64)
def _header_b64(gateway_id: str, signer_key_id: str, recipient_key_id: str) -> str:
    return b64url(canonical_json({
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "gateway_id": gateway_id,
        "signer_key_id": signer_key_id,
        "recipient_key_id": recipient_key_id,
    }))


def seal(
    envelope: Envelope, *, identity: GatewayIdentity, recipient_public_key: X25519PublicKey
) -> bytes:
    """Encrypt ``envelope`` to the tenant and sign it; returns the sealed blob (ASCII JSON)."""
    if envelope.body.gateway_id != identity.gateway_id:
        raise EnvelopeError("the envelope's gateway_id is not this gateway's")
    hdr = _header_b64(identity.gateway_id, identity.key_id, x25519_key_id(recipient_public_key))
    sealed = SUITE.encrypt(to_json(envelope), recipient_public_key, hpke_info(identity.gateway_id))
    ct = b64url(sealed)
    sig = b64url(identity.sign(signing_input(hdr, ct)))
    return canonical_json({"ct": ct, "hdr": hdr, "sig": sig})


def _parse_outer(blob: bytes) -> tuple[str, str, str, SealedHeader]:
    if len(blob) > MAX_SEALED:
        raise IntegrityError(f"sealed envelope is {len(blob)} bytes; the limit is {MAX_SEALED}")
    try:
        outer = strict_loads(blob)
    except EnvelopeError:
        raise IntegrityError("sealed envelope is not JSON") from None
    if not isinstance(outer, dict) or set(outer) != {"ct", "hdr", "sig"}:
        raise IntegrityError("sealed envelope must have exactly ct, hdr and sig")
    if not all(isinstance(v, str) for v in outer.values()) or canonical_json(outer) != blob:
        raise IntegrityError("sealed envelope is not in canonical form")
    try:
        doc: Any = strict_loads(_unb64url("hdr", outer["hdr"]))
    except EnvelopeError:
        raise IntegrityError("header is not JSON") from None
    if not isinstance(doc, dict) or set(doc) != _HEADER_FIELDS:
        raise IntegrityError("header fields are not the expected ones")
    types = {k: int if k == "version" else str for k in _HEADER_FIELDS}
    if any(type(doc[k]) is not t for k, t in types.items()):
        raise IntegrityError("header field of the wrong type")
    return outer["hdr"], outer["ct"], outer["sig"], SealedHeader(**doc)


def parse_sealed_header(blob: bytes) -> SealedHeader:
    """The header of a well-formed sealed blob, NOT verified: for routing and the egress guard."""
    return _parse_outer(blob)[3]


def _signer(
    trusted: Mapping[str, Ed25519PublicKey] | SignerLookup, header: SealedHeader
) -> Ed25519PublicKey:
    if isinstance(trusted, Mapping):
        key = trusted.get(header.signer_key_id)
    else:
        key = trusted(header.signer_key_id, header.gateway_id)
    if key is None:
        raise UnknownSignerError(
            f"signer {header.signer_key_id} is not trusted for gateway {header.gateway_id!r}"
        )
    return key


def open_sealed_with_header(
    blob: bytes,
    *,
    recipient_private_key: X25519PrivateKey,
    trusted_signers: Mapping[str, Ed25519PublicKey] | SignerLookup,
) -> tuple[Envelope, SealedHeader]:
    """Verify, decrypt and parse a sealed blob; returns the envelope and its signed header.

    Raises IntegrityError (UnknownSignerError for an untrusted key) for anything not authentic,
    EnvelopeError for an authentic envelope that breaks the schema.
    """
    hdr, ct, sig, header = _parse_outer(blob)
    key = _signer(trusted_signers, header)
    try:
        key.verify(_unb64url("sig", sig), signing_input(hdr, ct))
    except InvalidSignature:
        raise IntegrityError("signature does not verify") from None
    if (header.format, header.version) != (FORMAT, FORMAT_VERSION):
        raise EnvelopeError(f"unsupported envelope format {header.format!r} v{header.version}")
    if header.recipient_key_id != x25519_key_id(recipient_private_key):
        raise IntegrityError(f"sealed to tenant key {header.recipient_key_id}, not ours")
    try:
        plaintext = SUITE.decrypt(
            _unb64url("ct", ct), recipient_private_key, hpke_info(header.gateway_id)
        )
    except InvalidTag:
        raise IntegrityError("ciphertext failed authentication") from None
    envelope = from_json(plaintext)
    if envelope.body.gateway_id != header.gateway_id:
        raise EnvelopeError("body gateway_id differs from the signed header")
    return envelope, header


def open_sealed(
    blob: bytes,
    *,
    recipient_private_key: X25519PrivateKey,
    trusted_signers: Mapping[str, Ed25519PublicKey] | SignerLookup,
) -> Envelope:
    """Verify the signature, then decrypt and strictly parse a sealed envelope."""
    envelope, _ = open_sealed_with_header(
        blob, recipient_private_key=recipient_private_key, trusted_signers=trusted_signers
    )
    return envelope


__all__ = [
    "AuditCheckpoint", "ConversationMetadata", "Correction", "DeletionNotice", "Envelope",
    "EnvelopeError", "GatewayHealth", "SealedHeader", "TagSpan", "UnknownSignerError",
    "checkpoint_signing_input", "from_json", "open_sealed", "open_sealed_with_header",
    "parse_sealed_header", "seal",
    "to_json", "topic_gateway_id", "upstream_topic",
]  # fmt: skip
