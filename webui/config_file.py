"""Saving settings changed in the web UI back to the gateway's TOML file."""

from __future__ import annotations

from pathlib import Path

from gateway.config import Config, render_toml
from gateway.crypto.keyfiles import write_file_atomically

DEFAULT_CONFIG = Path("/etc/salestag/gateway.toml")


def save_config(path: Path | None, config: Config) -> Path:
    """Write the whole config atomically (readers see the old file or the new, never a part)."""
    target = path or DEFAULT_CONFIG
    write_file_atomically(target, render_toml(config).encode(), 0o644, replace=True)
    return target
