"""Key files handed over by systemd (``LoadCredential=``), else the data directory's own.

On the appliance the keys live in the root-only store ``/etc/credstore/salestag`` and systemd
copies them into ``$CREDENTIALS_DIRECTORY`` (readable by the service alone) when the gateway
starts; a development install keeps them in ``DATA_DIR/keys``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV = "CREDENTIALS_DIRECTORY"


def credential_path(name: str, default: Path, environ: Mapping[str, str] | None = None) -> Path:
    """``$CREDENTIALS_DIRECTORY/name`` when systemd passed that credential, else ``default``."""
    env = os.environ if environ is None else environ
    directory = env.get(ENV, "")
    if directory:
        candidate = Path(directory) / name
        if candidate.is_file():
            return candidate
    return default
