"""Commands that set a gateway up: ``init``, ``provision``, ``check-config``,
``config-defaults``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from gateway.cli.common import Subcommands, add_command, config_of
from gateway.config import Config, load_config, render_toml

log = logging.getLogger("gateway")


def cmd_check_config(args: argparse.Namespace) -> int:
    load_config(Path(args.file))
    print(f"{args.file}: OK")
    return 0


def cmd_config_defaults(args: argparse.Namespace) -> int:
    print(render_toml(Config()), end="")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from gateway.service import initialize

    for line in initialize(config_of(args)):
        print(line)
    return 0


def cmd_provision(args: argparse.Namespace) -> int:
    from gateway.appliance import provision

    config = config_of(args)
    result = provision(config, Path(args.credstore), owner=args.owner,
                       broker_group=args.broker_group)
    print(f"gateway {config.site.gateway_id}: created "
          f"{', '.join(result.created) if result.created else 'nothing (already provisioned)'}")
    print(f"gateway signing key id: {result.signing_key_id}")
    if result.setup_code:
        print(f"SETUP CODE: {result.setup_code}  (type it into the web UI's setup wizard)")
        log.info("a one-time setup code was printed to the console")
    return 0


def register(sub: Subcommands) -> None:
    add_command(sub, "init", cmd_init,
                "create the data directory, keys and the local broker's config")
    check = add_command(sub, "check-config", cmd_check_config, "validate a config file and exit")
    check.add_argument("file", help="TOML config file")
    add_command(sub, "config-defaults", cmd_config_defaults,
                "print every setting with its default and help")

    prov = add_command(sub, "provision", cmd_provision,
                       "first boot (as root): keys and local CA in the credential store, "
                       "setup code")
    prov.add_argument("--credstore", default="/etc/credstore/salestag",
                      help="root-only folder for the keys (default: /etc/credstore/salestag)")
    prov.add_argument("--owner", help="service user to hand the data directory to")
    prov.add_argument("--broker-group", help="group of the broker, which shares its folder")
