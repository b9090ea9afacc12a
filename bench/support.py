"""What the benchmarks that run a whole gateway share: a throwaway config and free ports."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

GATEWAY = [sys.executable, "-m", "gateway"]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_gateway(root: Path, site: str, extra: str = "") -> Path:
    """Write a gateway config under ``root`` (its own broker ports, the broker as root since
    the folder is private) with ``extra`` TOML sections, run ``init``; returns the config."""
    config = root / "gateway.toml"
    config.write_text(f"""
[site]
id = "{site}"
[paths]
data_dir = "{root / 'data'}"
[broker]
port = {free_port()}
tls_port = {free_port()}
user = "root"
advertised_host = "localhost"
{extra}
""")
    subprocess.run([*GATEWAY, "--config", str(config), "init"], check=True, capture_output=True)
    return config
