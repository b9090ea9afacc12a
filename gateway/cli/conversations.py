"""``conversations``: show what this gateway stored (an audited content read)."""

from __future__ import annotations

import argparse
import sys

from gateway.cli.access import actor_of, add_actor
from gateway.cli.common import Subcommands, add_command, config_of


def cmd_conversations(args: argparse.Namespace) -> int:
    """Audited reads through the access layer: with an id or --latest, a content read."""
    from gateway.service import show_conversations

    return show_conversations(config_of(args), args.id, latest=args.latest, wait_s=args.wait,
                              limit=args.limit, out=sys.stdout, actor=actor_of(args))


def register(sub: Subcommands) -> None:
    conv = add_command(sub, "conversations", cmd_conversations,
                       "show conversations stored on this gateway")
    conv.add_argument("id", nargs="?", help="conversation id (default: list recent ones)")
    conv.add_argument("--latest", action="store_true", help="show the newest conversation")
    conv.add_argument("--wait", type=float, default=0.0,
                      help="wait up to this many seconds for it to be transcribed")
    conv.add_argument("--limit", type=int, default=20, help="how many to list")
    add_actor(conv)
