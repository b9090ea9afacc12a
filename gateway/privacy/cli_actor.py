"""Who is acting when a person uses the command line."""

from __future__ import annotations

import getpass
import os
import re

_UNSAFE = re.compile(r"[^A-Za-z0-9._@-]")


def cli_actor(explicit: str | None = None) -> str:
    """``--actor`` if given, else ``cli:<login>`` (the sudo caller's name when run with sudo)."""
    if explicit:
        return explicit
    try:
        name = os.environ.get("SUDO_USER") or getpass.getuser()
    except (KeyError, OSError):
        name = f"uid{os.getuid()}"
    return "cli:" + (_UNSAFE.sub("_", name)[:100] or "unknown")
