"""The key-encryption key (KEK) and the per-conversation data keys it wraps.

The KEK is 32 random bytes in a root-only file. A wrapped data key is::

    kek_id (1 byte) || nonce (12 bytes) || AES-256-GCM(KEK, data_key, aad) (32 + 16 bytes)

with ``aad = b"salestag/datakey/v1\\x00" || kek_id || context``. The context (the conversation id)
binds the wrapped key to its conversation: unwrapping it under another context fails. ``kek_id`` is
the KEK generation (1 today), so the KEK can be rotated later without guessing which one applies.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.errors import CryptoError, IntegrityError, KeyFileError
from gateway.crypto.keyfiles import read_secret, write_secret

KEK_SIZE = 32
DATA_KEY_SIZE = 32
NONCE_SIZE = 12
WRAPPED_SIZE = 1 + NONCE_SIZE + DATA_KEY_SIZE + 16
CURRENT_KEK_ID = 1
_AAD_PREFIX = b"salestag/datakey/v1\x00"


class KeyStore:
    """Wraps and unwraps data keys under the local KEK."""

    def __init__(self, kek: bytes, kek_id: int = CURRENT_KEK_ID) -> None:
        if len(kek) != KEK_SIZE:
            raise KeyFileError(f"a key-encryption key is {KEK_SIZE} bytes, got {len(kek)}")
        if not 0 < kek_id < 256:
            raise CryptoError("kek_id must fit in one byte and not be 0")
        self._aead = AESGCM(kek)
        self._kek_id = kek_id

    @classmethod
    def create(cls, path: Path | str) -> KeyStore:
        """Generate a new KEK into ``path`` (0600); refuses to overwrite an existing file."""
        kek = os.urandom(KEK_SIZE)
        write_secret(path, kek)
        return cls(kek)

    @classmethod
    def load(cls, path: Path | str) -> KeyStore:
        """Load the KEK from ``path``, refusing a file others can read."""
        kek = read_secret(path)
        if len(kek) != KEK_SIZE:
            raise KeyFileError(f"{path} holds {len(kek)} bytes, not a {KEK_SIZE}-byte key")
        return cls(kek)

    @classmethod
    def open_or_create(cls, path: Path | str) -> KeyStore:
        """Load the KEK at ``path``, creating it first if there is none."""
        if Path(path).exists():
            return cls.load(path)
        try:
            return cls.create(path)
        except KeyFileError:
            if Path(path).exists():  # another process created it first
                return cls.load(path)
            raise

    def _aad(self, kek_id: int, context: bytes) -> bytes:
        if not context:
            raise CryptoError("a data key must be bound to a non-empty context")
        return _AAD_PREFIX + bytes([kek_id]) + context

    def new_data_key(self, context: bytes) -> tuple[bytes, bytes]:
        """Return ``(data_key, wrapped)``: a fresh 32-byte key and its wrap bound to ``context``."""
        data_key = os.urandom(DATA_KEY_SIZE)
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aead.encrypt(nonce, data_key, self._aad(self._kek_id, context))
        return data_key, bytes([self._kek_id]) + nonce + sealed

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Recover a data key; raises IntegrityError for a wrong key, context or altered bytes."""
        if len(wrapped) != WRAPPED_SIZE:
            raise IntegrityError(f"a wrapped data key is {WRAPPED_SIZE} bytes, got {len(wrapped)}")
        kek_id = wrapped[0]
        if kek_id != self._kek_id:
            raise IntegrityError(
                f"data key is wrapped under KEK generation {kek_id}; "
                f"this key store holds generation {self._kek_id}"
            )
        nonce, sealed = wrapped[1 : 1 + NONCE_SIZE], wrapped[1 + NONCE_SIZE :]
        try:
            return self._aead.decrypt(nonce, sealed, self._aad(kek_id, context))
        except InvalidTag:
            raise IntegrityError("wrapped data key failed authentication") from None
