"""``retention sweep``: apply the retention policy now."""

from __future__ import annotations

import argparse
from dataclasses import asdict

from gateway.cli.access import actor_of, add_actor, open_access, print_json
from gateway.cli.common import Subcommands, add_command, config_of


def cmd_retention(args: argparse.Namespace) -> int:
    with open_access(config_of(args)) as access:
        if args.dry_run:
            plan = access.retention_plan(now=args.now)
            print_json({"steps": [asdict(step) for step in plan.steps],
                        "audit_cutoff": plan.audit_cutoff,
                        "disk_short_bytes": plan.disk_short_bytes})
        else:
            print_json(access.sweep(actor_of(args), now=args.now))
    return 0


def register(sub: Subcommands) -> None:
    retention = add_command(sub, "retention", cmd_retention, "apply the retention policy now")
    retention.add_argument("action", choices=("sweep",),
                           help="delete what retention says is due")
    retention.add_argument("--dry-run", action="store_true",
                           help="print what would be deleted, delete nothing")
    retention.add_argument("--now", type=float,
                           help="judge ages as of this unix time (default: the clock)")
    add_actor(retention)
