"""Upstream publisher to HQ consumer through a real Mosquitto."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker, free_port, start_mosquitto, wait_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from gateway.crypto.identity import (
    GatewayIdentity,
    generate_tenant_keypair,
    load_tenant_private_key,
    load_tenant_public_key,
)
from gateway.sync.envelope import seal
from gateway.sync.hq import HqConsumer, HqStore, ReceiveOptions, receive_main
from gateway.sync.outbox import OutboxItem
from gateway.sync.schema import ConversationMetadata, Envelope, TagSpan, upstream_topic
from gateway.sync.upstream import UpstreamPublisher

TENANT = X25519PrivateKey.generate()
IDENTITY = GatewayIdentity(Ed25519PrivateKey.generate(), "gw-1")
TRUSTED = {IDENTITY.key_id: IDENTITY.public_key()}
TOPIC = upstream_topic("gw-1")


class MemoryOutbox:
    """An in-memory Outbox; ``hold`` hides pending items until cleared."""

    def __init__(self) -> None:
        self.items: dict[int, OutboxItem] = {}
        self.sent: list[int] = []
        self.rejected: list[int] = []
        self.hold = threading.Event()

    def add(self, payload: bytes, topic: str = TOPIC) -> int:
        item_id = len(self.items) + 1
        self.items[item_id] = OutboxItem(item_id, topic, payload)
        return item_id

    def pending(self, limit: int) -> list[OutboxItem]:
        if self.hold.is_set():
            return []
        done = {*self.sent, *self.rejected}
        return [item for i, item in self.items.items() if i not in done][:limit]

    def mark_sent(self, item_id: int) -> None:
        self.sent.append(item_id)

    def mark_sent_many(self, item_ids: Sequence[int]) -> None:
        self.sent.extend(item_ids)

    def reject(self, item_id: int, reason: str) -> None:
        self.rejected.append(item_id)


def envelope(n: int) -> Envelope:
    body = ConversationMetadata(
        f"c-{n}", "gw-1", "store-1", "badge-1", "rep-1", 1e9, 1e9 + 60, 60.0, 30.0,
        (TagSpan("pricing", 1.0, 2.0, 0.9),),
    )  # fmt: skip
    return Envelope("conversation", f"conversation:c-{n}", 1e9 + 61, body)


def sealed(n: int) -> bytes:
    return seal(envelope(n), identity=IDENTITY, recipient_public_key=TENANT.public_key())


@contextmanager
def running(target: Callable[[threading.Event], None]) -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(target=target, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()


def consumer_for(broker: Broker, store: HqStore, **kwargs: object) -> HqConsumer:
    return HqConsumer(broker.host, broker.port, recipient_private_key=TENANT,
                      trusted_signers=TRUSTED, store=store, **kwargs)  # type: ignore[arg-type]


def publisher_for(outbox: MemoryOutbox, port: int, **kwargs: float) -> UpstreamPublisher:
    return UpstreamPublisher(outbox, host="127.0.0.1", port=port, client_id="gw-1", **kwargs)


@contextmanager
def capture(broker: Broker) -> Iterator[list[bytes]]:
    """Everything the broker delivers on any topic."""
    seen: list[bytes] = []
    ready = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = lambda c, *_: c.subscribe("#", qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = lambda _c, _u, message: seen.append(message.payload)
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert ready.wait(5)
    try:
        yield seen
    finally:
        client.disconnect()
        client.loop_stop()


def test_publisher_delivers_and_hq_deduplicates(mosquitto: Broker, tmp_path: Path) -> None:
    store = HqStore(tmp_path / "hq.db")
    received: list[Envelope] = []
    consumer = consumer_for(mosquitto, store, on_envelope=received.append)
    outbox = MemoryOutbox()
    blobs = [sealed(n) for n in range(5)]
    for blob in blobs[:3]:
        outbox.add(blob)
    outbox.add(b"garbage that is not an envelope")
    for blob in blobs[3:]:
        outbox.add(blob)
    outbox.add(blobs[0])  # re-published duplicate
    with capture(mosquitto) as seen, running(consumer.run):
        assert consumer.subscribed.wait(5)
        publisher = publisher_for(outbox, mosquitto.port)
        try:
            assert publisher.drain_once(timeout=5) == 6
            assert publisher.drain_once(timeout=5) == 0
        finally:
            publisher.close()
        wait_for(lambda: consumer.stats.received == 6)
        wait_for(lambda: len(seen) == 6)
    stats = consumer.stats
    assert (stats.accepted, stats.duplicates, stats.rejected) == (5, 1, 0)
    assert outbox.rejected == [4]  # the egress guard kept the garbage in
    assert sorted(outbox.sent) == [1, 2, 3, 5, 6, 7]
    assert received == [envelope(n) for n in range(5)]
    assert store.count() == 5
    for payload in seen:  # what left the gateway carries no readable metadata
        assert b"rep-1" not in payload and b"store-1" not in payload and b"pricing" not in payload
    store.close()


def test_hq_offline_loses_nothing_and_receive_main(mosquitto: Broker, tmp_path: Path) -> None:
    generate_tenant_keypair(tmp_path / "tenant.pem", tmp_path / "tenant.pub.pem")
    private_key = load_tenant_private_key(tmp_path / "tenant.pem")
    IDENTITY.export_public(tmp_path / "gw-1.signer.json")
    # receive_main's consumer uses the default client id: open its persistent session first
    primer = HqConsumer(mosquitto.host, mosquitto.port, recipient_private_key=private_key,
                        trusted_signers=TRUSTED, store=HqStore())  # fmt: skip
    with running(primer.run):
        assert primer.subscribed.wait(5)
    outbox = MemoryOutbox()
    public = load_tenant_public_key(tmp_path / "tenant.pub.pem")
    for n in range(3):
        outbox.add(seal(envelope(n), identity=IDENTITY, recipient_public_key=public))
    outbox.add(b"{}")
    publisher = publisher_for(outbox, mosquitto.port)
    assert publisher.drain_once(timeout=5) == 3
    assert outbox.rejected == [4]
    publisher.close()
    out = io.StringIO()
    options = ReceiveOptions(mosquitto.host, mosquitto.port, [tmp_path / "tenant.pem"],
                             [tmp_path / "gw-1.signer.json"], db=tmp_path / "hq.db", count=3,
                             timeout=10.0)  # fmt: skip
    code = receive_main(options, out)
    assert code == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["idempotency_key"] for line in lines] == [f"conversation:c-{n}" for n in range(3)]


def test_receive_main_reports_bad_keys(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "tenant.pem").write_bytes(b"x" * 32)
    (tmp_path / "tenant.pem").chmod(0o644)
    options = ReceiveOptions("127.0.0.1", 1, [tmp_path / "tenant.pem"], count=1, timeout=1.0)
    assert receive_main(options) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_publisher_retries_until_the_broker_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.sync.upstream")
    port = free_port()
    outbox = MemoryOutbox()
    for n in range(3):
        outbox.add(sealed(n))
    outbox.hold.set()  # so HQ can subscribe before anything is published
    publisher = publisher_for(outbox, port, backoff_initial=0.05, backoff_max=0.2,
                              connect_timeout=1.0, idle_interval=0.2)  # fmt: skip
    with running(publisher.run):
        wait_for(lambda: caplog.text.count("upstream sync failed") >= 3)
        assert not publisher.connected and outbox.sent == []
        broker = start_mosquitto(tmp_path / "late-broker", port=port)
        try:
            store = HqStore()
            consumer = consumer_for(broker, store)
            wait_for(lambda: publisher.connected)
            with running(consumer.run):
                assert consumer.subscribed.wait(5)
                outbox.hold.clear()
                publisher.notify()
                wait_for(lambda: consumer.stats.accepted == 3)
            assert sorted(outbox.sent) == [1, 2, 3]
        finally:
            broker.stop()
        wait_for(lambda: not publisher.connected)
