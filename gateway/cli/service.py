"""Commands that run the gateway's long-lived processes: ``run``, ``ingest``, ``web``,
``badge-server``."""

from __future__ import annotations

import argparse

from gateway.cli.common import Subcommands, add_command, config_file, config_of


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service import run_service

    return run_service(config_of(args), config_file=config_file(args))


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.service import run_ingest_only

    return run_ingest_only(config_of(args))


def cmd_badge_server(args: argparse.Namespace) -> int:
    from webui.badge_server import serve_badges

    return serve_badges(config_of(args))


def cmd_web(args: argparse.Namespace) -> int:
    from webui.server import serve

    return serve(config_of(args), config_file(args), renew_code=args.new_setup_code)


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
