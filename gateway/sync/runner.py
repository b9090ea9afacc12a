"""The gateway's upstream thread, assembled from the config: outbox with its quota, TLS with the
gateway's client certificate, the publisher, and its periodic tasks (health envelopes, outbox
fill warnings, forgetting old acknowledged keys)."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from gateway.config import Config
from gateway.crypto.identity import GatewayIdentity, load_tenant_public_key
from gateway.store.db import open_db
from gateway.sync.egress import DEFAULT_MAX_ENVELOPE_BYTES
from gateway.sync.metadata import health_envelope, queue_envelope
from gateway.sync.schema import GatewayHealth
from gateway.sync.sqlite_outbox import (
    DEFAULT_QUOTA_BYTES,
    DEFAULT_WARN_FRACTION,
    OutboxFullError,
    SqliteOutbox,
)
from gateway.sync.tls import client_tls_context
from gateway.sync.upstream import UpstreamPublisher

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """Quota and size cap every writer of the outbox applies."""

    quota_bytes: int = DEFAULT_QUOTA_BYTES
    warn_fraction: float = DEFAULT_WARN_FRACTION
    max_envelope_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES

    @classmethod
    def from_config(cls, config: Config) -> OutboxSettings:
        up = config.upstream
        return cls(up.outbox_quota_mb * 1024 * 1024, up.outbox_warn_pct / 100,
                   up.max_envelope_kib * 1024)

    def open(self, db: sqlite_utils.Database) -> SqliteOutbox:
        """The outbox in ``db`` with these limits."""
        return SqliteOutbox(db, quota_bytes=self.quota_bytes, warn_fraction=self.warn_fraction,
                            max_envelope_bytes=self.max_envelope_bytes)


def load_recipients(config: Config) -> list[X25519PublicKey]:
    """HQ's public keys: ``tenant_public_key`` first, then ``extra_tenant_public_keys``."""
    paths = [config.upstream.tenant_public_key, *config.upstream.extra_tenant_public_keys]
    return [load_tenant_public_key(config.data_path(p)) for p in paths]


class PeriodicTasks:
    """Runs on the publisher's thread: health envelopes, fill warnings, pruning."""

    def __init__(self, outbox: SqliteOutbox, *, identity: GatewayIdentity,
                 recipients: Sequence[X25519PublicKey], data_dir: Path, health_interval_s: float,
                 keep_sent_s: float, started: float | None = None) -> None:
        self.outbox, self.identity, self.recipients = outbox, identity, list(recipients)
        self.data_dir = data_dir
        self.health_interval_s, self.keep_sent_s = health_interval_s, keep_sent_s
        self.started = time.monotonic() if started is None else started
        self._next_health = self.started + health_interval_s
        self._next_prune = 0.0
        self._level = "ok"

    def __call__(self) -> None:
        now = time.monotonic()
        self._check_level()
        if self.health_interval_s > 0 and now >= self._next_health:
            self._next_health = now + self.health_interval_s
            self.send_health()
        if now >= self._next_prune:
            self._next_prune = now + 3600
            self.outbox.prune(self.keep_sent_s)

    def _check_level(self) -> None:
        usage = self.outbox.usage()
        if usage.level != self._level:
            report = log.warning if usage.level != "ok" else log.info
            report("upstream outbox is %s: %d envelopes, %.0f%% of its %d MiB quota",
                   usage.level, usage.pending, usage.fraction * 100,
                   usage.quota_bytes // (1024 * 1024))
            self._level = usage.level

    def health(self) -> GatewayHealth:
        """The gateway's figures right now."""
        disk = shutil.disk_usage(self.data_dir)
        db = self.outbox.db
        pending = db.execute("SELECT count(*) FROM jobs WHERE kind = 'transcribe' "
                             "AND state IN ('queued', 'running')").fetchone()[0]
        badges = db.execute("SELECT count(DISTINCT badge_id) FROM conversations "
                            "WHERE status = 'receiving'").fetchone()[0]
        return GatewayHealth(
            gateway_id=self.identity.gateway_id, at=round(time.time(), 3),
            uptime_s=round(time.monotonic() - self.started, 1),
            outbox_backlog=self.outbox.backlog(),
            disk_free_pct=round(100.0 * disk.free / disk.total, 2) if disk.total else 0.0,
            conversations_pending=int(pending), badges_online=int(badges))

    def send_health(self) -> None:
        """Queue a health envelope, unless the outbox is past its warning level (health is the
        first thing to give way to the envelopes that matter)."""
        if self.outbox.usage().level != "ok":
            return
        try:
            queue_envelope(self.outbox, health_envelope(self.health()), identity=self.identity,
                           recipient=self.recipients)
        except OutboxFullError:
            return


def run_upstream(config: Config, db_path: Path, identity: GatewayIdentity,
                 recipients: Sequence[X25519PublicKey], stop: threading.Event) -> None:
    """The ``upstream`` supervisor thread: drain the outbox to HQ until ``stop``."""
    up = config.upstream
    tls = None
    if up.tls:
        tls = client_tls_context(
            config.data_path(up.ca_file) if up.ca_file else None,
            config.data_path(up.client_cert_file) if up.client_cert_file else None,
            config.data_path(up.client_key_file) if up.client_key_file else None)
    db = open_db(db_path)
    try:
        outbox = OutboxSettings.from_config(config).open(db)
        tasks = PeriodicTasks(outbox, identity=identity, recipients=recipients,
                              data_dir=config.data_dir, health_interval_s=up.health_interval_s,
                              keep_sent_s=up.keep_sent_days * 86400.0)
        UpstreamPublisher(outbox, host=up.host, port=up.port,
                          client_id=up.client_id or f"gateway-{identity.gateway_id}", tls=tls,
                          max_envelope_bytes=outbox.max_envelope_bytes, tick=tasks).run(stop)
    finally:
        db.close()
