"""Content encryption under a per-conversation data key: AES-256-GCM, random 12-byte nonce first."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.errors import CryptoError, IntegrityError

KEY_SIZE = 32
NONCE_SIZE = 12
TAG_SIZE = 16


def _cipher(data_key: bytes) -> AESGCM:
    if len(data_key) != KEY_SIZE:
        raise CryptoError(f"a data key is {KEY_SIZE} bytes, got {len(data_key)}")
    return AESGCM(data_key)


def seal_content(data_key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` bound to ``aad``; returns nonce || ciphertext || tag."""
    nonce = os.urandom(NONCE_SIZE)
    return nonce + _cipher(data_key).encrypt(nonce, plaintext, aad)


def open_content(data_key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt a blob from :func:`seal_content`; raises IntegrityError if it or ``aad`` changed."""
    cipher = _cipher(data_key)
    if len(blob) < NONCE_SIZE + TAG_SIZE:
        raise IntegrityError("sealed content is too short")
    try:
        return cipher.decrypt(blob[:NONCE_SIZE], blob[NONCE_SIZE:], aad)
    except InvalidTag:
        raise IntegrityError("sealed content failed authentication") from None
