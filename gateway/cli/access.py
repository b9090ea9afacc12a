"""What the privacy commands share: a thin face over the access layer.

``audit``, ``subject``, ``hold``, ``keys`` and ``retention`` each print JSON and are audited
with the acting person (``--actor``, else ``cli:<login>``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.errors import GatewayError


@contextmanager
def open_access(config: Config, config_path: Path | None = None) -> Iterator[Any]:
    """The access layer over this gateway's database, closed on leaving."""
    from gateway.privacy.access import AccessLayer
    from gateway.service import open_privacy_for
    from gateway.store.db import open_db
    from gateway.store.layout import Layout

    layout = Layout(config.data_dir)
    if not layout.db.exists():
        raise GatewayError(f"no database at {layout.db}: run `salestag-gateway init` first")
    privacy = open_privacy_for(config, config_path)
    db = open_db(layout.db)
    try:
        yield AccessLayer(db, privacy)
    finally:
        db.close()
        privacy.close()


def print_json(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def actor_of(args: argparse.Namespace) -> str:
    """Who is acting, for the audit log: ``--actor``, else ``cli:<login>``."""
    from gateway.privacy.cli_actor import cli_actor

    return cli_actor(args.actor)


def add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", help="who is acting, for the audit log "
                                        "(default: cli:<your login>)")
