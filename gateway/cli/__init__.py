"""The ``salestag-gateway`` command line: parses arguments, calls the core, maps errors to exits.

Each command group lives in its own module with a ``register(subcommands)``; this module only
builds the top-level parser and runs the chosen command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from gateway import __version__
from gateway.cli import (
    audit,
    badges,
    capture,
    consent,
    conversations,
    hq,
    keys,
    retention,
    rights,
    service,
    setup,
    speech,
    tag,
    users,
)
from gateway.config import DEFAULT_CONFIG
from gateway.entry import run_program

#: The command groups in the order ``--help`` lists them.
GROUPS = (service, setup, capture, badges, users, speech, tag, conversations, hq,
          audit, rights, consent, keys, retention)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salestag-gateway",
        description="Transcribe and tag sales-badge audio on the device; sync sealed metadata.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help=f"config file (default: $SALESTAG_CONFIG or "
                                         f"{DEFAULT_CONFIG}, else built-in defaults)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do")
    for group in GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_program(lambda: args.func(args), verbose=args.verbose)
