"""``keys rotate``: a new key-encryption key."""

from __future__ import annotations

import argparse

from gateway.cli.access import actor_of, add_actor, open_access, print_json
from gateway.cli.common import Subcommands, add_command, config_of


def cmd_keys(args: argparse.Namespace) -> int:
    with open_access(config_of(args)) as access:
        print_json(access.rotate_keys(actor_of(args)))
    return 0


def register(sub: Subcommands) -> None:
    keys = add_command(sub, "keys", cmd_keys,
                       "rotate the key-encryption key (re-wraps data keys only)")
    keys.add_argument("action", choices=("rotate",),
                      help="make a new KEK generation and re-wrap every data key under it")
    add_actor(keys)
