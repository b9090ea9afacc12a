"""Secrets live in files: created 0600 atomically, never overwritten, refused if others can read.

A secret's parent directory is created 0700 when missing. An existing parent is left as it is,
but one that others may write to (without the sticky bit) is refused, since anyone who can write
there could swap the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from gateway.crypto.errors import KeyFileError
from gateway.files import write_atomically

SECRET_MODE = 0o600
DIR_MODE = 0o700


def _check_parent(parent: Path) -> None:
    info = parent.stat()
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        raise KeyFileError(
            f"{parent} is writable by group or others; run: chmod go-w {parent}"
        )


def write_file_atomically(
    path: Path | str, data: bytes, mode: int, *, replace: bool = False
) -> None:
    """Write ``path`` with ``mode`` so readers see the old file or the whole new one, never a part.

    Refuses an existing ``path`` unless ``replace`` is true.
    """
    path = Path(path)
    parent = path.parent
    if not parent.exists():
        parent.mkdir(mode=DIR_MODE, parents=True)
    _check_parent(parent)
    if not replace and (path.exists() or path.is_symlink()):
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file")
    try:
        write_atomically(path, data, mode=mode, replace=replace)
    except FileExistsError:  # ``path`` appeared meanwhile
        raise KeyFileError(f"{path} already exists; refusing to overwrite a key file") from None


def write_secret(path: Path | str, data: bytes) -> None:
    """Create the secret file ``path`` (mode 0600, parent 0700 if created); refuse to overwrite."""
    write_file_atomically(path, data, SECRET_MODE)


def read_secret(path: Path | str) -> bytes:
    """Read a secret file, refusing one that group or others can read or that is not a file."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise KeyFileError(f"key file {path} does not exist") from None
    except PermissionError:
        raise KeyFileError(f"key file {path} is not readable by this user") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"key file {path} is not a regular file")
        if info.st_mode & 0o077:
            raise KeyFileError(
                f"key file {path} is accessible by group or others "
                f"(mode {stat.S_IMODE(info.st_mode):04o}); run: chmod 600 {path}"
            )
        return handle.read()
