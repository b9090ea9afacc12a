"""What the benchmarks share: a throwaway gateway config, free ports, and a configuration run
in a process of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

GATEWAY = [sys.executable, "-m", "gateway"]


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run_isolated(argv: list[str], label: str, *,
                 show_errors: bool = False) -> dict[str, Any] | None:
    """Run ``python ARGV`` (one configuration, so its peak RSS is its own) and return the JSON
    object on its last output line; None when it failed, after printing ``label`` and why (the
    last line of its errors, or, with ``show_errors``, its errors as they came)."""
    out = subprocess.run([sys.executable, *argv], stdout=subprocess.PIPE,
                         stderr=None if show_errors else subprocess.PIPE, text=True)
    if out.returncode:
        if show_errors:
            print(f"{label} failed (see its errors above)")
        else:
            print(f"{label} failed: {out.stderr.strip().splitlines()[-1:]}")
        return None
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


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
