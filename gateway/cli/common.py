"""What every command group shares: the effective config and the way a command is added."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

from gateway.config import Config
from gateway.entry import config_file as named_config_file
from gateway.local_settings import effective_config

Handler = Callable[[argparse.Namespace], int]
#: What ``ArgumentParser.add_subparsers`` returns.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def config_of(args: argparse.Namespace) -> Config:
    """The config file (see :func:`config_file`) with the settings changed on this gateway."""
    return effective_config(config_file(args))


def config_file(args: argparse.Namespace) -> Path | None:
    """The config file named on the command line, else $SALESTAG_CONFIG, else the system
    default if it exists."""
    return named_config_file(args.config)


def add_command(sub: Subcommands, name: str, func: Handler, help: str,
                description: str | None = None) -> argparse.ArgumentParser:
    """Add the command ``name`` that runs ``func``; its description defaults to its help."""
    command: argparse.ArgumentParser = sub.add_parser(name, help=help,
                                                      description=description or help)
    command.set_defaults(func=func)
    return command


def add_group(sub: Subcommands, name: str, help: str) -> Subcommands:
    """Add the command ``name`` whose own subcommands (``NAME_COMMAND``) do the work."""
    group: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    return group.add_subparsers(dest=f"{name}_command", required=True,
                                metavar=f"{name.upper()}_COMMAND", help="what to do")
