"""A full upstream outbox pauses transcription instead of failing or dropping anything."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import wait_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from privacy_support import make_site

import gateway.worker as worker_module
from gateway.crypto.identity import GatewayIdentity
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.jobs import TRANSCRIBE, JobQueue
from gateway.sync.runner import OutboxSettings
from gateway.worker import TranscriptionWorker, Upstream


class UnusedPipeline:
    """The worker must not get as far as transcribing while the outbox is full."""

    def process(self, audio: Any) -> Any:
        raise AssertionError("transcribed although the outbox is full")


def test_full_outbox_requeues_the_job_without_spending_an_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(worker_module, "OUTBOX_FULL_WAIT_S", 0.05)
    site = make_site(tmp_path / "data")
    db_path = site.db_path
    db = open_db(db_path)
    site.ctx.vault.create("c-1")
    Conversations(db).create(id="c-1", badge_id="badge-1", rep_id="rep-1", site="store-1",
                             started_at=1e9, codec=0, sample_rate=16000, channels=1,
                             wrapped_key=None)
    db.execute("UPDATE conversations SET status = 'queued' WHERE id = 'c-1'")
    JobQueue(db).enqueue(TRANSCRIBE, "c-1")
    settings = OutboxSettings(quota_bytes=1000)
    settings.open(db).add(idempotency_key="filler", topic="salestag/v1/hq/gw-1/envelopes",
                          payload=b"x" * 990)
    upstream = Upstream(GatewayIdentity(Ed25519PrivateKey.generate(), "gw-1"),
                        [X25519PrivateKey.generate().public_key()], settings)
    worker = TranscriptionWorker(
        db_path=db_path, privacy=site.ctx, pipeline=UnusedPipeline(),  # type: ignore[arg-type]
        upstream=upstream, keep_raw_audio=False, poll_s=0.05)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    with caplog.at_level(logging.WARNING, logger="gateway.worker"):
        thread.start()
        wait_for(lambda: sum("conversation c-1 waits" in r.getMessage()
                             for r in caplog.records) >= 3, 20, "three claim / requeue rounds")
    stop.set()
    thread.join(timeout=10)
    rows = db.execute("SELECT state, attempts FROM jobs WHERE conversation_id = 'c-1' "
                      "ORDER BY id DESC").fetchall()
    assert rows[0][0] == "queued" and rows[0][1] == 0  # waiting, with every attempt left
    assert Conversations(db).get("c-1").status == "queued"
    db.close()
