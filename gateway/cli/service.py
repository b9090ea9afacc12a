"""Commands that run the gateway's long-lived processes: ``run``, ``ingest``, ``web``,
``badge-server``."""

from __future__ import annotations

import argparse
import os
import sys

from gateway.cli.common import Subcommands, add_command, config_file, config_of
from gateway.entry import module_command


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service import run_service

    return run_service(config_of(args), config_file=config_file(args))


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.service import run_ingest_only

    return run_ingest_only(config_of(args))


def cmd_badge_server(args: argparse.Namespace) -> int:
    _become_face("webui.badge_server", args)
    return 1  # not reached: the upload server replaces this process


def cmd_web(args: argparse.Namespace) -> int:
    _become_face("webui.server", args, *(["--new-setup-code"] if args.new_setup_code else []))
    return 1  # not reached: the web UI's server replaces this process


def _become_face(module: str, args: argparse.Namespace, *extra: str) -> None:
    """Become ``python -m MODULE`` (a server of the web UI's package) with this config file:
    the core starts the web UI without importing it."""
    argv = module_command(module, config_file(args), *extra, *(["-v"] if args.verbose else []))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 - our own interpreter and module


def register(sub: Subcommands) -> None:
    add_command(sub, "run", cmd_run, "run the gateway service (ingest, transcription, sync)")
    add_command(sub, "ingest", cmd_ingest, "run only the badge ingest (no transcription or sync)")
    add_command(sub, "badge-server", cmd_badge_server,
                "serve the badges' Wi-Fi upload API over HTTPS (client certificate or token)")
    web = add_command(sub, "web", cmd_web,
                      "serve the web UI over HTTPS (prints its address and, before the first "
                      "account exists, a one-time setup code)")
    web.add_argument("--new-setup-code", action="store_true",
                     help="replace a lost setup code with a new one (only before setup)")
