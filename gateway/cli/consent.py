"""``hold list|release``: conversations held for missing consent."""

from __future__ import annotations

import argparse
import json

from gateway.cli.access import actor_of, add_actor, open_access, print_json
from gateway.cli.common import Subcommands, add_command, config_of
from gateway.errors import GatewayError


def cmd_hold(args: argparse.Namespace) -> int:
    with open_access(config_of(args)) as access:
        if args.action == "list":
            for item in access.list_conversations(actor_of(args), limit=args.limit):
                if item["status"] == "held":
                    print(json.dumps({k: item[k] for k in ("id", "badge_id", "rep_id",
                                                            "started_at")}))
            return 0
        if not args.conversation:
            raise GatewayError("release: name the conversation (--conversation ID)")
        print_json(access.release_hold(actor_of(args), args.conversation))
    return 0


def register(sub: Subcommands) -> None:
    hold = add_command(sub, "hold", cmd_hold,
                       "conversations held for missing consent: list or release")
    hold.add_argument("action", choices=("list", "release"),
                      help="list held conversations, or release one once consent is confirmed "
                           "(it becomes searchable and synced)")
    hold.add_argument("--conversation", help="release: the conversation id")
    hold.add_argument("--limit", type=int, default=1000, help="list: newest conversations to "
                                                              "look through")
    add_actor(hold)
