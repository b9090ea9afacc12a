"""Upstream sync under faults, each run counting what HQ lost and what it holds twice.

Real parts throughout: Mosquitto with a mutual-TLS listener (client certificates from a test CA,
an ACL binding each gateway to its topic, persistence on), the gateway's SQLite outbox, a
gateway-side child process killed with SIGKILL, a loopback TCP proxy that delays and cuts, and the
reference HQ consumer with its shared SQLite store. Outages last seconds, not minutes: the
publisher's backoff is capped low so the tests spend their time in the fault, not in waiting.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Broker, wait_for
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sync_support import (
    GATEWAY_ID,
    SIGNER_SEED,
    TENANT_SEED,
    Pki,
    TcpProxy,
    make_pki,
    random_cuts,
    start_tls_mosquitto,
)

from gateway.crypto.identity import GatewayIdentity
from gateway.store.db import open_db
from gateway.sync.hq import HqConsumer, HqStore
from gateway.sync.metadata import queue_envelope
from gateway.sync.runner import PeriodicTasks
from gateway.sync.schema import ConversationMetadata, Envelope, TagSpan
from gateway.sync.sqlite_outbox import OutboxFullError, SqliteOutbox
from gateway.sync.tls import client_tls_context
from gateway.sync.upstream import UpstreamPublisher

TENANT = X25519PrivateKey.from_private_bytes(TENANT_SEED)
IDENTITY = GatewayIdentity(Ed25519PrivateKey.from_private_bytes(SIGNER_SEED), GATEWAY_ID)
SUPPORT = Path(__file__).parent / "sync_support.py"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), (GATEWAY_ID, "hq-consumer", "capture"))


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    broker = start_tls_mosquitto(tmp_path / "hq-broker", pki)
    yield broker
    if broker.process.poll() is None:
        broker.stop()


@dataclass
class Hq:
    """A running HQ consumer over mutual TLS; ``jsonl`` holds every envelope it applied."""

    consumer: HqConsumer
    store: HqStore
    jsonl: io.StringIO
    stop: threading.Event
    thread: threading.Thread

    def keys(self) -> set[str]:
        return {key for _, key in self.store.keys()}

    def tally(self, expected: set[str]) -> tuple[int, int]:
        """(lost, duplicated) at HQ for the ``expected`` idempotency keys."""
        lines = [line for line in self.jsonl.getvalue().splitlines() if line]
        applied = [line.split('"idempotency_key":"')[1].split('"')[0] for line in lines]
        return len(expected - set(applied)), len(applied) - len(set(applied))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        self.store.close()


@pytest.fixture
def hq(broker: Broker, pki: Pki, tmp_path: Path) -> Iterator[Hq]:
    jsonl = io.StringIO()
    store = HqStore(tmp_path / "hq.db", jsonl=jsonl)
    consumer = HqConsumer(
        broker.host, broker.port, recipient_private_key=TENANT,
        trusted_signers={IDENTITY.key_id: IDENTITY.public_key()}, store=store,
        client_id="hq-1",
        tls=client_tls_context(pki.ca, pki.cert("hq-consumer"), pki.key("hq-consumer")))
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    assert consumer.subscribed.wait(10)
    running = Hq(consumer, store, jsonl, stop, thread)
    yield running
    running.close()


def envelope(n: int) -> Envelope:
    body = ConversationMetadata(f"c-{n}", GATEWAY_ID, "store-1", "badge-1", "rep-1", 1e9 + n,
                                1e9 + n + 60, 60.0, 30.0, (TagSpan("pricing", 1.0, 2.0, 0.9),))
    return Envelope("conversation", f"conversation:c-{n}", 1e9 + n, body)


def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "gateway"
    directory.mkdir(exist_ok=True)
    (directory / "tenant.pub").write_bytes(TENANT.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return directory


class Child:
    """The gateway-side child process: ``produce`` seals into the outbox, ``publish`` drains."""

    def __init__(self, mode: str, data: Path, pki: Pki, port: int, *args: str) -> None:
        self.lines: list[str] = []
        self.log = data / f"child-{mode}-{len(list(data.glob('child-*')))}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(SUPPORT), mode, "--data", str(data), "--pki",
                 str(pki.directory), "--port", str(port), *args],
                stdout=subprocess.PIPE, stderr=log, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        CHILDREN.append(self)

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.append(line.strip())

    def queued(self) -> set[str]:
        """Keys the child reported as durably queued before anything else happened."""
        return {f"conversation:c-{line.split()[1]}" for line in list(self.lines)
                if line.startswith("Q ")}

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.reader.join(timeout=5)

    def finish(self, timeout: float = 60) -> None:
        wait_for(lambda: "DRAINED" in self.lines or self.process.poll() is not None, timeout,
                 "the child to drain")
        assert self.process.wait(timeout=10) == 0, self.log.read_text()
        self.reader.join(timeout=5)


CHILDREN: list[Child] = []


@pytest.fixture(autouse=True)
def _reap_children() -> Iterator[None]:
    yield
    while CHILDREN:
        child = CHILDREN.pop()
        if child.process.poll() is None:
            child.kill()
        child.reader.join(timeout=5)


def outbox_rows(data: Path) -> tuple[set[str], set[str]]:
    """(every key in the outbox, keys not yet acknowledged), as the envelope's key."""
    with sqlite3.connect(data / "gateway.db") as db:
        rows = db.execute("SELECT idempotency_key, sent_at FROM outbox").fetchall()
    every = {key.split(">")[0] for key, _ in rows}
    return every, {key.split(">")[0] for key, sent in rows if sent is None}


def test_sigkill_while_sealing_then_restart(tmp_path: Path, pki: Pki, broker: Broker,
                                            hq: Hq) -> None:
    data = data_dir(tmp_path)
    producer = Child("produce", data, pki, broker.port, "--count", "2000")
    wait_for(lambda: len(producer.queued()) >= 150, what="150 envelopes sealed")
    producer.kill()  # in the middle of sealing and committing
    acknowledged = producer.queued()
    in_outbox, _ = outbox_rows(data)
    assert acknowledged <= in_outbox and len(in_outbox) < 2000
    Child("publish", data, pki, broker.port).finish()
    wait_for(lambda: hq.keys() >= in_outbox, what="HQ to hold the outbox")
    assert hq.tally(in_outbox) == (0, 0)
    assert hq.keys() == in_outbox


def test_sigkill_while_publishing(tmp_path: Path, pki: Pki, broker: Broker, hq: Hq) -> None:
    data = data_dir(tmp_path)
    child = Child("produce", data, pki, broker.port, "--count", "400", "--publish")
    wait_for(lambda: len(hq.keys()) >= 60, timeout=60, what="HQ to get some envelopes")
    child.kill()
    acknowledged = child.queued()
    in_outbox, unsent = outbox_rows(data)
    assert unsent, "the kill came after everything was sent"
    Child("publish", data, pki, broker.port).finish()
    wait_for(lambda: hq.keys() >= in_outbox, what="HQ to hold the outbox")
    assert acknowledged <= in_outbox
    assert hq.tally(in_outbox) == (0, 0)


def test_sigkill_between_publish_and_puback(tmp_path: Path, pki: Pki, broker: Broker,
                                           hq: Hq) -> None:
    data = data_dir(tmp_path)
    Child("produce", data, pki, broker.port, "--count", "120").finish()
    every, _ = outbox_rows(data)
    proxy = TcpProxy(broker.port).start()
    try:
        publisher = Child("publish", data, pki, proxy.port)
        wait_for(lambda: len(hq.keys()) >= 1, what="the first envelope")
        proxy.hold_replies = True  # publishes reach the broker; PUBACKs stop at the proxy

        def received_not_acked() -> bool:
            _, unsent = outbox_rows(data)
            return len(unsent & hq.keys()) >= 5

        wait_for(received_not_acked, what="envelopes at HQ but unacknowledged at the gateway")
        publisher.kill()
    finally:
        proxy.close()
    Child("publish", data, pki, broker.port).finish()
    wait_for(lambda: hq.keys() >= every, what="HQ to hold everything")
    assert hq.consumer.stats.duplicates >= 5  # re-sent after the kill, dropped by HQ
    assert hq.tally(every) == (0, 0)


def test_reboot_with_hundreds_queued(tmp_path: Path, pki: Pki, broker: Broker, hq: Hq) -> None:
    """Power loss with 500 envelopes queued while the uplink was down: the restarted gateway
    delivers all of them."""
    data = data_dir(tmp_path)
    producer = Child("produce", data, pki, broker.port, "--count", "500")
    wait_for(lambda: "PRODUCED" in producer.lines, what="500 envelopes queued")
    producer.kill()
    every, unsent = outbox_rows(data)
    assert len(every) == len(unsent) == 500
    Child("publish", data, pki, broker.port).finish()
    wait_for(lambda: hq.keys() >= every, what="HQ to hold all 500")
    assert hq.tally(every) == (0, 0)


def publisher(db_path: Path, pki: Pki, port: int) -> tuple[threading.Event, threading.Thread]:
    """Run an upstream publisher, with its own database connection, in a thread."""
    stop = threading.Event()

    def target() -> None:
        db = open_db(db_path)
        try:
            UpstreamPublisher(
                SqliteOutbox(db), host="127.0.0.1", port=port, client_id="gateway-gw-1",
                tls=client_tls_context(pki.ca, pki.cert(GATEWAY_ID), pki.key(GATEWAY_ID)),
                backoff_initial=0.1, backoff_max=0.5, connect_timeout=2.0, publish_timeout=3.0,
                idle_interval=0.1).run(stop)
        finally:
            db.close()

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return stop, thread


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[SqliteOutbox]:
    db = open_db(tmp_path / "gateway.db")
    yield SqliteOutbox(db)
    db.close()


def _failed_attempts(caplog: pytest.LogCaptureFixture) -> int:
    return sum("upstream sync failed" in r.getMessage() for r in caplog.records)


def queue(outbox: SqliteOutbox, numbers: range) -> set[str]:
    for n in numbers:
        queue_envelope(outbox, envelope(n), identity=IDENTITY, recipient=TENANT.public_key())
    return {f"conversation:c-{n}" for n in numbers}


def test_upstream_broker_down_then_back(tmp_path: Path, pki: Pki, broker: Broker, hq: Hq,
                                        outbox: SqliteOutbox,
                                        caplog: pytest.LogCaptureFixture) -> None:
    """The HQ broker goes away for a few of the publisher's attempts (minutes in the field; its
    backoff is capped at 0.5 s here) while envelopes keep coming; all arrive once it is back."""
    expected = queue(outbox, range(0, 50))
    stop, thread = publisher(tmp_path / "gateway.db", pki, broker.port)
    wait_for(lambda: outbox.backlog() == 0, what="the first 50")
    broker.stop()  # persistence keeps HQ's session and subscription
    failed_before = _failed_attempts(caplog)
    expected |= queue(outbox, range(50, 150))
    wait_for(lambda: _failed_attempts(caplog) >= failed_before + 3, 30,
             "three failed attempts to reach the HQ broker")
    assert outbox.backlog() == 100
    broker.process = start_tls_mosquitto(tmp_path / "hq-broker", pki, port=broker.port).process
    try:
        wait_for(lambda: outbox.backlog() == 0, what="the backlog to drain")
        wait_for(lambda: hq.keys() >= expected, what="HQ to hold everything")
    finally:
        stop.set()
        thread.join(timeout=10)
    assert hq.tally(expected) == (0, 0)


def test_proxy_drops_and_delays(tmp_path: Path, pki: Pki, broker: Broker, hq: Hq,
                                outbox: SqliteOutbox) -> None:
    proxy = TcpProxy(broker.port, delay_s=0.003).start()
    cutter_stop = threading.Event()
    cutter = threading.Thread(target=random_cuts, args=(proxy, cutter_stop, (0.2, 0.6)),
                              daemon=True)
    stop, thread = publisher(tmp_path / "gateway.db", pki, proxy.port)
    cutter.start()
    try:
        expected = queue(outbox, range(300))
        wait_for(lambda: outbox.backlog() == 0, timeout=40, what="the backlog to drain")
        wait_for(lambda: hq.keys() >= expected, what="HQ to hold everything")
    finally:
        cutter_stop.set()
        stop.set()
        thread.join(timeout=10)
        proxy.close()
    assert proxy.cuts >= 2
    assert hq.tally(expected) == (0, 0)


def test_disk_full_while_offline(tmp_path: Path, pki: Pki, broker: Broker, hq: Hq,
                                 caplog: pytest.LogCaptureFixture) -> None:
    """The outbox fills while the uplink is down. A full disk is simulated through the outbox's
    quota (a few kilobytes here), which is where a real gateway stops too; SQLite's own
    "database or disk is full" maps to the same error (see test_sync_outbox). The producer keeps
    what it could not queue and retries; nothing is lost or doubled once the uplink is back."""
    caplog.set_level(logging.INFO, logger="gateway.sync.runner")
    db = open_db(tmp_path / "gateway.db")
    outbox = SqliteOutbox(db, quota_bytes=40_000, warn_fraction=0.5)
    tasks = PeriodicTasks(outbox, identity=IDENTITY, recipients=[TENANT.public_key()],
                          data_dir=tmp_path, health_interval_s=0, keep_sent_s=86400)
    proxy = TcpProxy(broker.port, refuse=True).start()  # the uplink is down
    stop, thread = publisher(tmp_path / "gateway.db", pki, proxy.port)
    waiting: list[int] = []
    try:
        for n in range(120):
            try:
                queue(outbox, range(n, n + 1))
            except OutboxFullError:
                waiting.append(n)
            tasks()
        assert waiting and len(waiting) < 120
        assert outbox.usage().level == "full"
        assert "upstream outbox is warning" in caplog.text
        assert "upstream outbox is full" in caplog.text
        proxy.refuse = False  # the uplink is back
        while waiting:
            try:
                queue(outbox, range(waiting[0], waiting[0] + 1))
                waiting.pop(0)
            except OutboxFullError:
                stop.wait(0.05)
        wait_for(lambda: outbox.backlog() == 0, what="the backlog to drain")
        tasks()
        assert "upstream outbox is ok" in caplog.text
        expected = {f"conversation:c-{n}" for n in range(120)}
        wait_for(lambda: hq.keys() >= expected, what="HQ to hold everything")
    finally:
        stop.set()
        thread.join(timeout=10)
        proxy.close()
        db.close()
    assert hq.tally(expected) == (0, 0)
