"""Builds the MQTT ingest from the config and runs it (the service's ``ingest`` worker)."""

from __future__ import annotations

import gc
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.broker import local_password
from gateway.config import Config
from gateway.crypto.datakeys import KeyStore
from gateway.ingest.health import save_health
from gateway.ingest.mqtt import MqttIngest
from gateway.ingest.quotas import Admission, DiskWatermark
from gateway.ingest.recorder import Recorder
from gateway.protocol.assembler import Assembler
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.jobs import JobQueue
from gateway.store.layout import Layout
from gateway.store.spool import AudioSpool

if TYPE_CHECKING:
    from gateway.privacy.context import PrivacyContext

log = logging.getLogger(__name__)
MIB = 1024 * 1024


def build_admission(config: Config) -> Admission:
    ingest = config.ingest
    return Admission(
        disk=DiskWatermark(ingest.spool_quota_mb * MIB, ingest.high_watermark_pct,
                           min(ingest.low_watermark_pct, ingest.high_watermark_pct - 1),
                           ingest.min_free_mb * MIB),
        rate_bytes_s=ingest.badge_max_kbps * 1024.0, burst_bytes=ingest.badge_burst_kb * 1024.0,
        max_session_ms=ingest.max_session_s * 1000)


def run_ingest(config: Config, db_path: Path, keys: KeyStore, spool: AudioSpool,
               stop: threading.Event, *, skip_badges: frozenset[str] = frozenset(),
               privacy: PrivacyContext | None = None) -> None:
    """Resume interrupted receptions, then take badge messages until ``stop`` is set.

    With ``privacy``, data keys go to its key vault, customer references and badge consent
    go to the privacy layer, and an opt-out message purges the session at once.
    """
    db = open_db(db_path)
    try:
        hooks = None
        if privacy is not None:
            from gateway.privacy.access import AccessLayer
            from gateway.privacy.ingest import IngestPrivacy

            hooks = IngestPrivacy(AccessLayer(db, privacy))
        recorder = Recorder(site=config.site.id, keys=keys, conversations=Conversations(db),
                            jobs=JobQueue(db), spool=spool, fsync=config.ingest.fsync == "always",
                            vault=privacy.vault if privacy else None,
                            on_started=hooks.started if hooks else None)
        assembler = Assembler(session_timeout_s=config.ingest.session_timeout_s,
                              reorder_window=config.ingest.reorder_window)
        resumed = recorder.recover(assembler, skip=skip_badges)
        if resumed:
            log.info("resumed %d receptions a restart interrupted", resumed)
        recorder.sweep_orphans()
        # Everything loaded so far lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it, which stalled acks by up to ~100 ms every few s.
        gc.collect()
        gc.freeze()
        password = (local_password(config, "gateway")
                    if Layout(config.data_dir).broker_secret("gateway").exists() else None)
        MqttIngest(site=config.site.id, host=config.broker.host, port=config.broker.port,
                   client_id=config.broker.client_id, assembler=assembler, recorder=recorder,
                   username=config.broker.username if password else None, password=password,
                   admission=build_admission(config),
                   ack_interval_s=config.ingest.ack_interval_ms / 1000,
                   on_health=lambda badges: save_health(db, badges),
                   on_consent=hooks.control if hooks else None).run(stop)
    finally:
        db.close()
