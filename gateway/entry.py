"""Running one of the gateway's programs as a process: its config file, its log, its exit code.

The command line (``salestag-gateway``) and the faces' own servers (``python -m webui.server``,
``python -m webui.badge_server``) start the same way, so a bad config or a gateway error reads
the same whichever of them met it.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import sys
from collections.abc import Callable
from pathlib import Path

from gateway.config import DEFAULT_CONFIG, ConfigError
from gateway.errors import GatewayError
from gateway.logsetup import configure_logging

CONFIG_ENV = "SALESTAG_CONFIG"

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters (malloc.h)
M_ARENA_MAX = -8
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value, kept from then on
ARENA_MAX = 2


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
    pin_allocator()
    keep_blas_on_one_thread()
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


def pin_allocator() -> bool:
    """Keep glibc's malloc from holding on to memory a large block once passed through.

    glibc gives a block over 128 KiB its own mapping, returned to the system when freed; but
    freeing one raises that threshold to the block's size (up to 32 MiB), so from then on blocks
    of that size (whisper.cpp's buffers, numpy's arrays) come from the heap, which fragments and
    is rarely given back. One Argon2 hash (19 MiB) at start-up was enough to cost the service
    about 50 MB at its peak. The threshold is pinned at 128 KiB, and the threads share at most
    two arenas, each holding its own free memory. ``MALLOC_MMAP_THRESHOLD_`` and
    ``MALLOC_ARENA_MAX`` in the environment still win. Returns False where the C library is not
    glibc (nothing changed)."""
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)  # the C library this process runs
    if mallopt is None:
        return False
    if "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    if "MALLOC_ARENA_MAX" not in os.environ:
        mallopt(M_ARENA_MAX, ARENA_MAX)
    return True


def keep_blas_on_one_thread() -> None:
    """Have numpy's OpenBLAS compute on the calling thread alone.

    OpenBLAS starts a thread per core for a large enough matrix product and keeps them spinning
    between calls. The gateway's products (the tagger's head and nearest-example vote) are small
    and the cores are whisper.cpp's: with ~960 examples the spinning cost ~40% more CPU per
    segment (``bench/tags.py``). OpenBLAS reads this when numpy loads, which no program does
    before its entry; ``OPENBLAS_NUM_THREADS`` in the environment still wins."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
