"""``audit verify|show|checkpoint``: the tamper-evident audit log."""

from __future__ import annotations

import argparse
import json

from gateway.cli.access import actor_of, add_actor, open_access, print_json
from gateway.cli.common import Subcommands, add_command, config_of


def cmd_audit(args: argparse.Namespace) -> int:
    with open_access(config_of(args)) as access:
        if args.action == "verify":
            report = access.verify_audit(actor_of(args))
            print_json(report)
            return 0 if report["ok"] else 1
        if args.action == "checkpoint":
            print_json(access.checkpoint(actor_of(args)))
            return 0
        for entry in access.audit_entries(actor_of(args), since_seq=args.since,
                                          limit=args.limit, object=args.object):
            print(json.dumps(entry, sort_keys=True))
    return 0


def register(sub: Subcommands) -> None:
    audit = add_command(sub, "audit", cmd_audit, "verify or show the tamper-evident audit log")
    audit.add_argument("action", choices=("verify", "show", "checkpoint"),
                       help="verify the chain and signed checkpoints (exit 1 on any problem), "
                            "show entries as JSON lines, or sign a checkpoint now")
    audit.add_argument("--since", type=int, default=0, help="show: entries after this seq")
    audit.add_argument("--limit", type=int, default=100, help="show: at most this many")
    audit.add_argument("--object", help="show: only entries about this object, "
                                        "e.g. conversation:ID")
    add_actor(audit)
