"""Web UI account commands: ``user reset-password|add``."""

from __future__ import annotations

import argparse

from gateway.cli.access import actor_of, add_actor, open_access
from gateway.cli.common import Subcommands, add_command, add_group, config_of


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from gateway.accounts.admin import read_new_password

    password = read_new_password(args.password_file)
    with open_access(config_of(args)) as access:
        access.reset_password(actor_of(args), args.name, password)
    print(f"password of {args.name} changed; the account is unlocked and signed out everywhere")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from gateway.accounts.admin import read_new_password

    password = read_new_password(args.password_file)
    with open_access(config_of(args)) as access:
        access.add_user(actor_of(args), args.name, password, args.role)
    print(f"{args.role} {args.name} added")
    return 0


def register(sub: Subcommands) -> None:
    user_sub = add_group(sub, "user", "web UI accounts: reset a password, add an account")
    reset = add_command(user_sub, "reset-password", cmd_user_reset_password,
                        "set a new password and unlock",
                        "Set a new password for a web UI account, unlock it and end its "
                        "sessions.")
    reset.add_argument("name", help="user name")
    reset.add_argument("--password-file", help="read the new password from this file "
                                               "(default: ask twice on the terminal)")
    add_actor(reset)
    user_add = add_command(user_sub, "add", cmd_user_add, "add a web UI account",
                           "Add a web UI account.")
    user_add.add_argument("name", help="user name")
    user_add.add_argument("--role", required=True, choices=("installer", "manager", "auditor"),
                          help="what the account may do")
    user_add.add_argument("--password-file", help="read the password from this file "
                                                  "(default: ask twice on the terminal)")
    add_actor(user_add)
