"""Files written whole or not at all, and a file's sha256: the filesystem helpers every area uses.

A write goes to a fresh temporary file beside its target (created with the target's mode, never
through a link), is flushed to disk, takes the target's name in one rename (or a hard link, when
an existing file must not be replaced), and the folder is flushed too, so after a crash readers
find the old file or the whole new one. A leaf module: it imports nothing of ours.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: The ending of a write's temporary file: ``.<name>.<random>.part`` beside its target.
TEMP_SUFFIX = ".part"


def sha256_file(path: Path) -> str:
    """The lowercase hex sha256 of the file at ``path``, read in chunks."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def fsync_path(path: Path) -> None:
    """Flush a file's or a folder's contents (a folder: its entries) to disk."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: Path, *, mode: int = 0o644, replace: bool = True) -> Iterator[Path]:
    """A new empty temporary file beside ``path`` (``mode``) for the caller to fill by name.

    When the block ends without an error, the file is flushed and becomes ``path``, and the
    folder is flushed; on an error (raise one to reject what was written, e.g. a wrong checksum)
    it is removed and ``path`` is untouched. With ``replace`` false an existing ``path`` is
    never replaced: :class:`FileExistsError`, even if it appeared while the block ran.
    """
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)  # the umask does not narrow it
    finally:
        os.close(fd)
    try:
        yield tmp
        fsync_path(tmp)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and fails if ``path`` exists
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(path.parent)


def write_atomically(path: Path, data: bytes, *, mode: int = 0o644, replace: bool = True) -> None:
    """Write ``data`` to ``path`` whole or not at all (see :func:`atomic_path`)."""
    with atomic_path(path, mode=mode, replace=replace) as tmp:
        fd = os.open(tmp, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)


__all__ = ["TEMP_SUFFIX", "atomic_path", "fsync_path", "sha256_file", "write_atomically"]
