"""Background duties of the privacy layer: the retention sweeper (which also ends abandoned
web sessions) and the checkpoint timer."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

from gateway.accounts.sessions import Sessions
from gateway.config import Config
from gateway.errors import GatewayError
from gateway.privacy.access import AccessLayer
from gateway.privacy.context import PrivacyContext
from gateway.store.db import open_db

log = logging.getLogger(__name__)

RETENTION_ACTOR = "system:retention"

Duty = Callable[[AccessLayer], object]


def duties(config: Config) -> list[tuple[str, float, Duty]]:
    """The privacy layer's periodic duties as ``(thread name, interval in s, duty)``."""
    return [("retention", config.retention.sweep_interval_s,
             retention_sweep(config.web.session_idle_minutes * 60.0)),
            ("audit-checkpoint", config.audit.checkpoint_interval_s, sign_checkpoint)]


def run_periodically(db_path: Path, ctx: PrivacyContext, interval_s: float,
                     duty: Duty, stop: threading.Event) -> None:
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


def retention_sweep(session_idle_s: float) -> Duty:
    """A retention sweep, then the deletion of web sessions idle for ``session_idle_s`` or
    past their absolute lifetime (sessions abandoned without signing out)."""

    def duty(access: AccessLayer) -> object:
        result = sweep_retention(access)
        ended = Sessions(access.db, idle_s=session_idle_s, clock=access.ctx.clock).purge_expired()
        if ended:
            log.info("deleted %d expired web sessions", ended)
        return result

    return duty


def sign_checkpoint(access: AccessLayer) -> object:
    return access.checkpoint()
