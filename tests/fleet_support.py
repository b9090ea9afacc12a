"""A Debian bookworm root made with debootstrap once and cached outside the repository.

The cache key is a hash of the suite, variant and package list, so a changed list builds a new
root; each test session works on its own copy (`cp -a`), never on the cached original. The first
build takes a few minutes (~80 s for debootstrap plus the packages); later sessions copy it in a
few seconds. Set SALESTAG_TEST_CACHE to move the cache (default /var/tmp/salestag-test-cache).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
#: What the roles install, so that applying them needs no download (and python3 for Ansible).
PACKAGES = ("python3", "python3-apt", "python3-venv", "systemd", "nftables",
            "unattended-upgrades", "mosquitto", "libportaudio2", "libsndfile1",
            "ca-certificates", "openssh-server", "sqlite3")


def cache_dir() -> Path:
    return Path(os.environ.get("SALESTAG_TEST_CACHE", "/var/tmp/salestag-test-cache"))


def cache_key() -> str:
    spec = "\n".join([SUITE, "minbase", MIRROR, *sorted(PACKAGES)])
    return hashlib.sha256(spec.encode()).hexdigest()[:16]


def missing_tools() -> list[str]:
    return [tool for tool in ("debootstrap", "chroot") if shutil.which(tool) is None]


def cached_rootfs() -> Path:
    """The cached pristine root, built on first use (locked against parallel builders)."""
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    root = base / f"{SUITE}-{cache_key()}"
    with open(base / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / ".complete").exists():
            building = base / f"{root.name}.building"
            shutil.rmtree(building, ignore_errors=True)
            subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                            SUITE, str(building), MIRROR], check=True, capture_output=True,
                           timeout=1200)
            shutil.rmtree(root, ignore_errors=True)
            building.rename(root)
            (root / ".complete").touch()
    return root


def fresh_rootfs(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of the cached root for one test session."""
    if os.geteuid() != 0:
        pytest.skip("building and entering a chroot needs root")
    if missing_tools():
        pytest.skip(f"missing {', '.join(missing_tools())} (scripts/setup --dev installs them)")
    target = tmp_path_factory.mktemp(name) / "rootfs"
    subprocess.run(["cp", "-a", str(cached_rootfs()), str(target)], check=True, timeout=600)
    (target / ".complete").unlink()
    return target
