"""Running one of the gateway's programs as a process: its config file, its log, its exit code.

The command line (``salestag-gateway``) and the faces' own servers (``python -m webui.server``,
``python -m webui.badge_server``) start the same way, so a bad config or a gateway error reads
the same whichever of them met it.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.config import DEFAULT_CONFIG, ConfigError
from gateway.errors import GatewayError
from gateway.logsetup import configure_logging

CONFIG_ENV = "SALESTAG_CONFIG"


def config_file(named: str | None) -> Path | None:
    """The config file named on the command line, else $SALESTAG_CONFIG, else the system
    default if it exists."""
    path = named or os.environ.get(CONFIG_ENV)
    if path:
        return Path(path)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def program_parser(prog: str, description: str) -> argparse.ArgumentParser:
    """A parser with the options every program of the gateway takes (``--config``, ``-v``)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", help=f"config file (default: ${CONFIG_ENV} or "
                                         f"{DEFAULT_CONFIG}, else built-in defaults)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    return parser


def run_program(body: Callable[[], int], *, verbose: bool = False) -> int:
    """Run ``body`` with the gateway's umask and logging; its errors become exit codes
    (2 for a bad config, 1 for any other gateway error, 130 for Ctrl-C)."""
    os.umask(0o077)  # keys, database and spool are the gateway's alone
    configure_logging(verbose=verbose)  # journald fields under systemd, else stderr
    try:
        return int(body())
    except ConfigError as exc:
        print("config error:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def module_command(module: str, config: Path | None, *args: str) -> list[str]:
    """The command line running ``python -m MODULE`` with this interpreter and config file."""
    argv = [sys.executable, "-m", module]
    if config is not None:
        argv += ["--config", str(config)]
    return [*argv, *args]
