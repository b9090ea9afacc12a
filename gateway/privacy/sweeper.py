"""Background duties of the privacy layer: the retention sweeper and the checkpoint timer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from gateway.errors import GatewayError
from gateway.privacy.access import AccessLayer
from gateway.privacy.context import PrivacyContext
from gateway.store.db import open_db

log = logging.getLogger(__name__)

RETENTION_ACTOR = "system:retention"


def run_periodically(db_path: Path, ctx: PrivacyContext, interval_s: float,
                     duty: Callable[[AccessLayer], object], stop: threading.Event) -> None:
    """Run ``duty`` every ``interval_s`` until ``stop``, with its own connection; a failing
    run is logged and retried next time."""
    db = open_db(db_path)
    access = AccessLayer(db, ctx)
    try:
        while not stop.wait(interval_s):
            try:
                duty(access)
            except GatewayError as exc:
                log.error("privacy duty failed: %s", exc)
        duty(access)  # a last checkpoint (or sweep) on the way out
    finally:
        db.close()


def sweep_retention(access: AccessLayer) -> object:
    result = access.sweep(RETENTION_ACTOR)
    if result["steps"] or result["audit_pruned"]:
        log.info("retention sweep: %s, %d audit entries pruned", result["steps"],
                 result["audit_pruned"])
    return result


def sign_checkpoint(access: AccessLayer) -> object:
    return access.checkpoint()
