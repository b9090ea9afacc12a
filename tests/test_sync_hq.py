"""HQ scale-out and semantics: two consumers on one shared subscription apply every envelope
exactly once; deletion notices, audit-checkpoint continuity, several tenant keys, and the
mutual-TLS listener refusing the wrong clients."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker, wait_for
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from sync_support import GATEWAY_ID, Pki, make_pki, start_tls_mosquitto

from gateway.crypto.identity import GatewayIdentity
from gateway.crypto.keyfiles import write_secret
from gateway.sync.envelope import seal
from gateway.sync.hq import HqConsumer, HqStore
from gateway.sync.metadata import (
    audit_checkpoint_envelope,
    correction_envelope,
    deletion_envelope,
    health_envelope,
)
from gateway.sync.outbox import OutboxItem
from gateway.sync.schema import (
    AuditCheckpoint,
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    GatewayHealth,
    TagSpan,
    checkpoint_signing_input,
    upstream_topic,
)
from gateway.sync.tls import client_tls_context
from gateway.sync.upstream import UpstreamError, UpstreamPublisher

TENANT = X25519PrivateKey.generate()
IDENTITY = GatewayIdentity(Ed25519PrivateKey.generate(), GATEWAY_ID)
AUDIT_KEY = Ed25519PrivateKey.generate()
TRUSTED = {IDENTITY.key_id: IDENTITY.public_key()}
TOPIC = upstream_topic(GATEWAY_ID)


def conversation(n: int) -> Envelope:
    body = ConversationMetadata(f"c-{n}", GATEWAY_ID, "store-1", "badge-1", "rep-1", 1e9,
                                1e9 + 60, 60.0, 30.0, (TagSpan("pricing", 1.0, 2.0, 0.9),))
    return Envelope("conversation", f"conversation:c-{n}", 1e9 + 61, body)


def sealed(env: Envelope, tenant: X25519PrivateKey = TENANT) -> bytes:
    return seal(env, identity=IDENTITY, recipient_public_key=tenant.public_key())


def checkpoint(seq: int, entries: int, head: str, at: float,
               key: Ed25519PrivateKey = AUDIT_KEY) -> AuditCheckpoint:
    signature = key.sign(checkpoint_signing_input(GATEWAY_ID, seq, head, entries, at)).hex()
    return AuditCheckpoint(GATEWAY_ID, seq, head, entries, at, signature)


class ListOutbox:
    """Items held in memory, for driving the real publisher in these tests."""

    def __init__(self, payloads: list[bytes], topic: str = TOPIC) -> None:
        self.items = [OutboxItem(i + 1, topic, p) for i, p in enumerate(payloads)]
        self.sent: set[int] = set()

    def pending(self, limit: int) -> list[OutboxItem]:
        return [i for i in self.items if i.id not in self.sent][:limit]

    def mark_sent(self, item_id: int) -> None:
        self.sent.add(item_id)

    def mark_sent_many(self, item_ids: list[int]) -> None:
        self.sent.update(item_ids)

    def reject(self, item_id: int, reason: str) -> None:
        raise AssertionError(reason)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"), (GATEWAY_ID, "gw-2", "hq-consumer"))


@pytest.fixture
def broker(tmp_path: Path, pki: Pki) -> Iterator[Broker]:
    broker = start_tls_mosquitto(tmp_path / "broker", pki)
    yield broker
    broker.stop()


def publish_all(pki: Pki, broker: Broker, payloads: list[bytes], name: str = GATEWAY_ID,
                topic: str = TOPIC) -> ListOutbox:
    outbox = ListOutbox(payloads, topic)
    publisher = UpstreamPublisher(outbox, host=broker.host, port=broker.port,
                                  client_id=f"gateway-{name}",
                                  tls=client_tls_context(pki.ca, pki.cert(name), pki.key(name)))
    try:
        while outbox.pending(1):
            publisher.drain_once(timeout=10)
    finally:
        publisher.close()
    return outbox


def test_two_consumers_on_a_shared_subscription_apply_each_envelope_once(
    tmp_path: Path, pki: Pki
) -> None:
    """One consumer in this process, one ``hq receive`` process, one group, one shared store."""
    broker = start_tls_mosquitto(tmp_path / "broker", pki, log_packets=True)
    try:
        _apply_each_envelope_once(tmp_path, pki, broker)
    finally:
        broker.stop()


def _apply_each_envelope_once(tmp_path: Path, pki: Pki, broker: Broker) -> None:
    write_secret(tmp_path / "tenant.key", TENANT.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    IDENTITY.export_public(tmp_path / "gw.signer.json")
    db = tmp_path / "hq.db"
    jsonl = tmp_path / "second.jsonl"
    second = subprocess.Popen(
        [sys.executable, "-m", "gateway", "hq", "receive", "--port", str(broker.port),
         "--key", str(tmp_path / "tenant.key"), "--signer", str(tmp_path / "gw.signer.json"),
         "--db", str(db), "--jsonl", str(jsonl), "--share-group", "hq", "--client-id", "hq-2",
         "--ca", str(pki.ca), "--tls-cert", str(pki.cert("hq-consumer")),
         "--tls-key", str(pki.key("hq-consumer")), "--timeout", "60"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    store = HqStore(db)
    first = HqConsumer(broker.host, broker.port, recipient_private_key=TENANT,
                       trusted_signers=TRUSTED, store=store, share_group="hq", client_id="hq-1",
                       tls=client_tls_context(pki.ca, pki.cert("hq-consumer"),
                                              pki.key("hq-consumer")))
    stop = threading.Event()
    thread = threading.Thread(target=first.run, args=(stop,), daemon=True)
    thread.start()
    try:
        assert first.subscribed.wait(10)
        wait_for(lambda: "hq-2 1 $share/hq/" in broker.log.read_text(),
                 what="the second consumer's subscription")
        payloads = [sealed(conversation(n)) for n in range(300)]
        payloads += payloads[:60]  # re-deliveries, as after a gateway crash
        publish_all(pki, broker, payloads)
        wait_for(lambda: len(store.keys()) == 300, what="300 envelopes at HQ")
        # a consumer acks an envelope once it has applied or dropped it (manual ack)
        wait_for(lambda: broker.log.read_text().count("Received PUBACK from hq-") >= 360,
                 what="both consumers to ack all 360 deliveries")
    finally:
        stop.set()
        thread.join(timeout=10)
        second.send_signal(signal.SIGINT)  # it prints its summary and exits
        _, err = second.communicate(timeout=60)  # a loaded box can take long to drain it
    summary = json.loads(err.strip().splitlines()[-1])["summary"]
    second_lines = jsonl.read_text().splitlines()
    first_keys = first.stats.accepted
    assert first_keys > 0 and summary["accepted"] > 0, (first.stats, summary)  # load was split
    assert first_keys + summary["accepted"] == 300  # every envelope applied exactly once
    assert first.stats.duplicates + summary["duplicates"] == 60
    assert len(second_lines) == summary["accepted"]
    assert sorted(k for _, k in store.keys()) == sorted(f"conversation:c-{n}" for n in range(300))
    store.close()


def test_deletion_notices_apply_in_either_order(tmp_path: Path) -> None:
    store = HqStore(tmp_path / "hq.db")
    consumer = HqConsumer("127.0.0.1", 1, recipient_private_key=TENANT, trusted_signers=TRUSTED,
                          store=store)
    correction = correction_envelope(Correction("c-1", GATEWAY_ID, "pricing", "change", 1.0, 2.0,
                                                "financing", "user-3", 1e9 + 100))
    for env in (conversation(1), conversation(2), correction):
        assert consumer.handle(TOPIC, sealed(env)) == "accepted"
    assert store.count("conversation") == 2 and store.count("correction") == 1
    notice = deletion_envelope(DeletionNotice(("c-1", "c-3"), "subject_request", 1e9 + 200,
                                              GATEWAY_ID, "ab" * 32))
    assert consumer.handle(TOPIC, sealed(notice)) == "accepted"
    assert store.count("conversation") == 1 and store.count("correction") == 0
    assert store.deleted(GATEWAY_ID, "c-1") and store.deleted(GATEWAY_ID, "c-3")
    # a late copy of a deleted conversation, or one that arrives after its deletion, stays out
    assert consumer.handle(TOPIC, sealed(conversation(1))) == "duplicate"
    assert consumer.handle(TOPIC, sealed(conversation(3))) == "deleted"
    assert consumer.handle(TOPIC, sealed(notice)) == "duplicate"
    assert store.count("conversation") == 1
    store.close()


def test_audit_checkpoint_continuity(tmp_path: Path) -> None:
    store = HqStore(tmp_path / "hq.db", audit_keys=lambda g: [AUDIT_KEY.public_key()])
    consumer = HqConsumer("127.0.0.1", 1, recipient_private_key=TENANT, trusted_signers=TRUSTED,
                          store=store)

    def send(cp: AuditCheckpoint) -> None:
        assert consumer.handle(TOPIC, sealed(audit_checkpoint_envelope(cp))) == "accepted"

    send(checkpoint(1, 10, "aa" * 32, 1000.0))
    send(checkpoint(3, 30, "cc" * 32, 3000.0))
    send(checkpoint(2, 20, "bb" * 32, 2000.0))  # late, but consistent
    assert store.alerts() == []
    send(checkpoint(4, 25, "dd" * 32, 4000.0))  # fewer entries than seq 3: truncated
    send(checkpoint(3, 31, "ee" * 32, 3000.0))  # the same seq with another head: forked
    send(checkpoint(5, 40, "ff" * 32, 5000.0, key=Ed25519PrivateKey.generate()))  # re-signed
    problems = {(seq, problem) for _, seq, problem in store.alerts()}
    assert (4, "truncated") in problems
    assert (3, "fork") in problems
    assert (5, "bad_signature") in problems
    assert all(seq >= 3 for seq, _ in problems)
    assert consumer.handle(TOPIC, sealed(audit_checkpoint_envelope(
        checkpoint(4, 25, "dd" * 32, 4000.0)))) == "duplicate"
    store.close()


def test_several_tenant_keys(tmp_path: Path) -> None:
    """A gateway seals one copy per HQ key during a rotation; a consumer with only the old key
    skips the new key's copy, one with both applies the envelope once."""
    new_tenant = X25519PrivateKey.generate()
    old_only = HqConsumer("127.0.0.1", 1, recipient_private_key=TENANT, trusted_signers=TRUSTED,
                          store=HqStore())
    both = HqConsumer("127.0.0.1", 1, recipient_private_key=[TENANT, new_tenant],
                      trusted_signers=TRUSTED, store=HqStore())
    copies = [sealed(health_envelope(GatewayHealth(GATEWAY_ID, 1e9, 5.0, 0, 50.0, 0, 1)), key)
              for key in (TENANT, new_tenant)]
    assert [old_only.handle(TOPIC, c) for c in copies] == ["accepted", "not_ours"]
    assert [both.handle(TOPIC, c) for c in copies] == ["accepted", "duplicate"]
    assert old_only.stats.rejected == both.stats.rejected == 0


def test_mutual_tls_refuses_strangers_and_other_gateways_topics(
    pki: Pki, broker: Broker, tmp_path: Path
) -> None:
    # no client certificate: the TLS handshake fails
    outbox = ListOutbox([sealed(conversation(1))])
    publisher = UpstreamPublisher(outbox, host=broker.host, port=broker.port, client_id="x",
                                  tls=client_tls_context(pki.ca), connect_timeout=3.0)
    with pytest.raises(UpstreamError):
        publisher.drain_once(timeout=2)
    publisher.close()
    # a broker certificate from another CA: refused by the gateway
    other = make_pki(tmp_path / "other-pki", (GATEWAY_ID,))
    publisher = UpstreamPublisher(outbox, host=broker.host, port=broker.port, client_id="x",
                                  tls=client_tls_context(other.ca, other.cert(GATEWAY_ID),
                                                         other.key(GATEWAY_ID)),
                                  connect_timeout=3.0)
    with pytest.raises(UpstreamError):
        publisher.drain_once(timeout=2)
    publisher.close()
    # gw-2's certificate cannot publish on gw-1's topic: nothing reaches HQ
    seen: list[bytes] = []
    watcher = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="watch")
    watcher.tls_set_context(client_tls_context(pki.ca, pki.cert("hq-consumer"),
                                               pki.key("hq-consumer")))
    ready = threading.Event()
    watcher.on_connect = lambda c, *_: c.subscribe("salestag/v1/hq/+/envelopes", qos=1)
    watcher.on_subscribe = lambda *_: ready.set()
    watcher.on_message = lambda _c, _u, m: seen.append(m.payload)
    watcher.connect(broker.host, broker.port)
    watcher.loop_start()
    try:
        assert ready.wait(5)
        outbox = ListOutbox([sealed(conversation(1))])
        publisher = UpstreamPublisher(outbox, host=broker.host, port=broker.port,
                                      client_id="gateway-gw-2",
                                      tls=client_tls_context(pki.ca, pki.cert("gw-2"),
                                                             pki.key("gw-2")))
        try:
            answered = publisher.drain_once(timeout=10) == 1
        except UpstreamError as exc:
            answered = "refused" in str(exc)  # an MQTT v5 broker may say so in its PUBACK
        finally:
            publisher.close()
        assert answered  # the broker has routed (or dropped) gw-2's envelope
        publish_all(pki, broker, [sealed(conversation(2))])  # gw-1 on its own topic
        # the broker routes in the order it receives: gw-2's envelope, had it been let through,
        # would have reached the watcher before gw-1's
        wait_for(lambda: len(seen) >= 1, what="gw-1's envelope")
        assert len(seen) == 1
    finally:
        watcher.disconnect()
        watcher.loop_stop()
