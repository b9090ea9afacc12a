"""The encrypted audio spool: one append-only file per conversation, each chunk sealed.

A file is a sequence of records ``u32 length || sealed chunk``. Chunk *n* is sealed with the
conversation's data key and bound to ``<conversation id>:audio:<n>``, so records cannot be
reordered or moved between conversations. A record cut short by a crash is ignored on read.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from gateway.crypto.content import open_content, seal_content
from gateway.store.errors import StoreError

log = logging.getLogger(__name__)

_LENGTH = struct.Struct(">I")
SUFFIX = ".spool"


def _aad(conversation_id: str, index: int) -> bytes:
    return f"{conversation_id}:audio:{index}".encode()


def _records(data: bytes) -> list[bytes]:
    records: list[bytes] = []
    offset = 0
    while offset + _LENGTH.size <= len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        start = offset + _LENGTH.size
        if start + length > len(data):
            break
        records.append(data[start:start + length])
        offset = start + length
    if offset != len(data):
        log.warning("spool file has %d trailing bytes of a cut-off record", len(data) - offset)
    return records


class SpoolWriter:
    """Appends sealed chunks to one conversation's spool file."""

    def __init__(self, path: Path, conversation_id: str, data_key: bytes) -> None:
        self.path = path
        self.conversation_id = conversation_id
        self._key = data_key
        self._index = len(_records(path.read_bytes())) if path.exists() else 0
        self._file = path.open("ab")

    def append(self, chunk: bytes) -> None:
        """Seal and append a chunk; flushed to the OS before returning."""
        sealed = seal_content(self._key, chunk, _aad(self.conversation_id, self._index))
        try:
            self._file.write(_LENGTH.pack(len(sealed)) + sealed)
            self._file.flush()
        except OSError as exc:
            raise StoreError(f"cannot write audio spool {self.path.name}: {exc}") from exc
        self._index += 1

    def sync(self) -> None:
        """Force the spool file to stable storage."""
        os.fsync(self._file.fileno())

    def close(self, *, sync: bool = True) -> None:
        """Close the file, forcing it to stable storage first unless ``sync`` is False."""
        if not self._file.closed:
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
            self._file.close()


class AudioSpool:
    """The folder of spool files, readable only by the gateway."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def path(self, conversation_id: str) -> Path:
        return self.directory / f"{conversation_id}{SUFFIX}"

    def writer(self, conversation_id: str, data_key: bytes) -> SpoolWriter:
        return SpoolWriter(self.path(conversation_id), conversation_id, data_key)

    def read(self, conversation_id: str, data_key: bytes) -> bytes:
        """Decrypt and join every complete chunk of a conversation."""
        path = self.path(conversation_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"no spooled audio for conversation {conversation_id}") from None
        return b"".join(open_content(data_key, record, _aad(conversation_id, i))
                        for i, record in enumerate(_records(data)))

    def truncate(self, conversation_id: str, records: int) -> int:
        """Cut a spool file back to its first ``records`` records (dropping a torn tail too);
        returns how many records were dropped."""
        path = self.path(conversation_id)
        if not path.exists():
            return 0
        data = path.read_bytes()
        offset, kept = 0, 0
        while kept < records and offset + _LENGTH.size <= len(data):
            (length,) = _LENGTH.unpack_from(data, offset)
            if offset + _LENGTH.size + length > len(data):
                break
            offset += _LENGTH.size + length
            kept += 1
        dropped = len(_records(data[offset:])) if offset < len(data) else 0
        if offset < len(data):
            with path.open("r+b") as handle:
                handle.truncate(offset)
                os.fsync(handle.fileno())
        return dropped

    def untouched_since(self, moment: float) -> list[str]:
        """Conversations whose spool file was last written before ``moment``."""
        found = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            try:
                if path.stat().st_mtime < moment:
                    found.append(path.name.removesuffix(SUFFIX))
            except FileNotFoundError:
                continue  # deleted meanwhile
        return found

    def delete(self, conversation_id: str) -> bool:
        """Remove a conversation's spool file; returns whether there was one."""
        try:
            self.path(conversation_id).unlink()
        except FileNotFoundError:
            return False
        return True

    def usage_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.directory.glob(f"*{SUFFIX}"))
