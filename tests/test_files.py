"""Whole-or-nothing file writes and file hashes (gateway.files), on real files."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from gateway.files import TEMP_SUFFIX, atomic_path, sha256_file, write_atomically


def test_sha256_file_is_the_hash_of_the_contents(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    data = os.urandom(3 << 20)  # more than one read chunk
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


def test_a_write_replaces_the_file_with_the_mode_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"old")
    old_umask = os.umask(0o077)
    try:
        write_atomically(path, b"new contents", mode=0o644)
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == b"new contents"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    write_atomically(path, b"secret", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]


def test_without_replace_an_existing_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "kek.key"
    write_atomically(path, b"first", replace=False)
    with pytest.raises(FileExistsError):
        write_atomically(path, b"second", replace=False)
    assert path.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kek.key"]


def test_an_error_in_the_block_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    path.write_text("old", encoding="utf-8")
    with pytest.raises(ValueError, match="checksum"), atomic_path(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith(TEMP_SUFFIX)
        tmp.write_text("half-written", encoding="utf-8")
        raise ValueError("checksum mismatch")
    assert path.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_a_block_may_stream_into_the_file(tmp_path: Path) -> None:
    pieces = [os.urandom(1000), os.urandom(2000)]
    path = tmp_path / "joined.bin"
    with atomic_path(path) as tmp, tmp.open("wb") as out:
        for piece in pieces:
            out.write(piece)
    assert path.read_bytes() == b"".join(pieces)


def test_a_planted_link_at_the_temporary_name_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The temporary file is created fresh (O_EXCL | O_NOFOLLOW), never through a link."""
    monkeypatch.setattr("gateway.files.secrets.token_hex", lambda _n: "fixed")
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    (tmp_path / f".target.fixed{TEMP_SUFFIX}").symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_atomically(tmp_path / "target", b"data")
    assert victim.read_bytes() == b"untouched" and not (tmp_path / "target").exists()
