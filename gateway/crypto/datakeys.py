"""The key-encryption key (KEK) and the per-conversation data keys it wraps.

The KEK is 32 random bytes in a root-only file. A wrapped data key is::

    kek_id (1 byte) || nonce (12 bytes) || AES-256-GCM(KEK, data_key, aad) (32 + 16 bytes)

with ``aad = b"salestag/datakey/v1\\x00" || kek_id || context``. The context (the conversation id)
binds the wrapped key to its conversation: unwrapping it under another context fails. ``kek_id`` is
the KEK generation, so a rotated KEK never has to be guessed.

KEK file: 32 bytes (generation 1) or 33 bytes (generation byte, then the key). Rotation
(:func:`stage_rotation`, re-wrap every data key, :func:`commit_rotation`) writes the next
generation to ``<kek file>.next`` first; a store loaded while a rotation is pending knows both
generations and wraps under the newer one. Content is never re-encrypted: only the 61-byte wraps
change.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gateway.crypto.errors import CryptoError, IntegrityError, KeyFileError
from gateway.crypto.keyfiles import read_secret, write_secret
from gateway.files import fsync_path

KEK_SIZE = 32
DATA_KEY_SIZE = 32
NONCE_SIZE = 12
WRAPPED_SIZE = 1 + NONCE_SIZE + DATA_KEY_SIZE + 16
CURRENT_KEK_ID = 1
_AAD_PREFIX = b"salestag/datakey/v1\x00"


class KeyStore:
    """Wraps and unwraps data keys under the local KEK (and, during a rotation, its successor)."""

    def __init__(self, kek: bytes, kek_id: int = CURRENT_KEK_ID, *,
                 older: Mapping[int, bytes] | None = None, path: Path | None = None) -> None:
        generations = {**(older or {}), kek_id: kek}
        for generation, key in generations.items():
            if len(key) != KEK_SIZE:
                raise KeyFileError(f"a key-encryption key is {KEK_SIZE} bytes, got {len(key)}")
            if not 0 < generation < 256:
                raise CryptoError("kek_id must fit in one byte and not be 0")
        self._aeads = {generation: AESGCM(key) for generation, key in generations.items()}
        self._kek_id = max(generations)
        self._path = path
        self._stamp = _stamp(path) if path is not None else None

    @property
    def generation(self) -> int:
        """The KEK generation new data keys are wrapped under."""
        return self._kek_id

    @classmethod
    def create(cls, path: Path | str) -> KeyStore:
        """Generate a new KEK into ``path`` (0600); refuses to overwrite an existing file."""
        kek = os.urandom(KEK_SIZE)
        write_secret(path, kek)
        return cls(kek, path=Path(path))

    @classmethod
    def load(cls, path: Path | str) -> KeyStore:
        """Load the KEK from ``path`` (and a pending rotation's next KEK), refusing loose files."""
        path = Path(path)
        kek_id, kek = _read_kek(path)
        older: dict[int, bytes] = {}
        pending = next_path(path)
        if pending.exists():
            next_id, next_kek = _read_kek(pending)
            older[kek_id] = kek
            kek_id, kek = next_id, next_kek
        return cls(kek, kek_id, older=older, path=path)

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

    def refresh(self) -> None:
        """Reload the KEK file if it changed on disk (a rotation by another process)."""
        if self._path is None or _stamp(self._path) == self._stamp:
            return
        fresh = KeyStore.load(self._path)
        self._aeads, self._kek_id, self._stamp = fresh._aeads, fresh._kek_id, fresh._stamp

    def _aad(self, kek_id: int, context: bytes) -> bytes:
        if not context:
            raise CryptoError("a data key must be bound to a non-empty context")
        return _AAD_PREFIX + bytes([kek_id]) + context

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """Wrap an existing data key under the current generation, bound to ``context``."""
        if len(data_key) != DATA_KEY_SIZE:
            raise CryptoError(f"a data key is {DATA_KEY_SIZE} bytes, got {len(data_key)}")
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aeads[self._kek_id].encrypt(nonce, data_key,
                                                   self._aad(self._kek_id, context))
        return bytes([self._kek_id]) + nonce + sealed

    def new_data_key(self, context: bytes) -> tuple[bytes, bytes]:
        """Return ``(data_key, wrapped)``: a fresh 32-byte key and its wrap bound to ``context``."""
        self.refresh()
        data_key = os.urandom(DATA_KEY_SIZE)
        return data_key, self.wrap(data_key, context)

    def unwrap(self, wrapped: bytes, *, context: bytes) -> bytes:
        """Recover a data key; raises IntegrityError for a wrong key, context or altered bytes."""
        if len(wrapped) != WRAPPED_SIZE:
            raise IntegrityError(f"a wrapped data key is {WRAPPED_SIZE} bytes, got {len(wrapped)}")
        kek_id = wrapped[0]
        if kek_id not in self._aeads:
            self.refresh()
        aead = self._aeads.get(kek_id)
        if aead is None:
            raise IntegrityError(
                f"data key is wrapped under KEK generation {kek_id}; "
                f"this key store holds generation {self._kek_id}"
            )
        nonce, sealed = wrapped[1 : 1 + NONCE_SIZE], wrapped[1 + NONCE_SIZE :]
        try:
            return aead.decrypt(nonce, sealed, self._aad(kek_id, context))
        except InvalidTag:
            raise IntegrityError("wrapped data key failed authentication") from None


def next_path(path: Path) -> Path:
    """Where a rotation stages the next KEK generation."""
    return path.with_name(path.name + ".next")


def _stamp(path: Path) -> tuple[int, int, bool]:
    try:
        info = path.stat()
    except FileNotFoundError:
        return (0, 0, next_path(path).exists())
    return (info.st_ino, info.st_mtime_ns, next_path(path).exists())


def _read_kek(path: Path) -> tuple[int, bytes]:
    data = read_secret(path)
    if len(data) == KEK_SIZE:
        return CURRENT_KEK_ID, data
    if len(data) == KEK_SIZE + 1 and data[0] != 0:
        return data[0], data[1:]
    raise KeyFileError(f"{path} holds {len(data)} bytes, not a {KEK_SIZE}-byte key")


def stage_rotation(path: Path | str) -> KeyStore:
    """Write the next KEK generation beside ``path`` (or keep a pending one); returns it alone."""
    path = Path(path)
    pending = next_path(path)
    if not pending.exists():
        current, _ = _read_kek(path)
        if current >= 255:
            raise CryptoError("the KEK has been rotated 254 times; no generation is left")
        write_secret(pending, bytes([current + 1]) + os.urandom(KEK_SIZE))
    kek_id, kek = _read_kek(pending)
    return KeyStore(kek, kek_id)


def commit_rotation(path: Path | str) -> None:
    """Make the staged generation the KEK file, destroying the old generation's file."""
    path = Path(path)
    pending = next_path(path)
    os.replace(pending, path)
    fsync_path(path.parent)
