"""The durable outbox and the egress guard, and a privacy capture of a faulty sync run."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker, wait_for
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from sync_support import GATEWAY_ID, TcpProxy, make_pki, random_cuts, start_tls_mosquitto

from gateway.crypto.identity import GatewayIdentity
from gateway.intel import annotate
from gateway.intel.types import Segment
from gateway.store.conversations import Conversations
from gateway.store.db import open_db, transaction
from gateway.sync.egress import EgressError, check_envelope, check_sealed
from gateway.sync.envelope import open_sealed, seal
from gateway.sync.metadata import (
    conversation_envelope,
    correction_envelope,
    deletion_envelope,
    queue_envelope,
)
from gateway.sync.schema import (
    ConversationMetadata,
    Correction,
    DeletionNotice,
    Envelope,
    TagSpan,
    to_json,
    upstream_topic,
)
from gateway.sync.sqlite_outbox import OutboxFullError, SqliteOutbox
from gateway.sync.tls import client_tls_context
from gateway.sync.upstream import UpstreamPublisher, backoff_delay

TENANT = X25519PrivateKey.generate()
IDENTITY = GatewayIdentity(Ed25519PrivateKey.generate(), GATEWAY_ID)
TOPIC = upstream_topic(GATEWAY_ID)


def conversation(n: int, cid: str | None = None) -> Envelope:
    body = ConversationMetadata(cid or f"c-{n}", GATEWAY_ID, "store-1", "badge-1", "rep-1",
                                1e9, 1e9 + 60, 60.0, 30.0, (TagSpan("pricing", 1.0, 2.0, 0.9),))
    return Envelope("conversation", f"conversation:{cid or f'c-{n}'}:{n}", 1e9 + n, body)


def correction(cid: str, n: int) -> Envelope:
    return correction_envelope(Correction(cid, GATEWAY_ID, "pricing", "remove", 1.0, 2.0 + n,
                                          None, "user-1", 1e9 + n))


@pytest.fixture
def outbox(tmp_path: Path) -> SqliteOutbox:
    return SqliteOutbox(open_db(tmp_path / "gateway.db"))


def add(outbox: SqliteOutbox, env: Envelope, recipients: list[X25519PrivateKey] | None = None,
        ) -> bool:
    keys = [k.public_key() for k in recipients or [TENANT]]
    return queue_envelope(outbox, env, identity=IDENTITY, recipient=keys)


def test_outbox_is_durable_ordered_per_conversation_and_idempotent(
    outbox: SqliteOutbox, tmp_path: Path
) -> None:
    assert outbox.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert add(outbox, conversation(0, "c-a"))
    assert add(outbox, correction("c-a", 1))
    assert add(outbox, correction("c-a", 2))
    assert add(outbox, conversation(3, "c-b"))
    assert not add(outbox, correction("c-a", 1))  # the same fact again: not queued twice
    # what is committed is on disk for any other connection (another process, after a crash)
    with sqlite3.connect(tmp_path / "gateway.db") as other:
        assert other.execute("SELECT count(*) FROM outbox").fetchone()[0] == 4
    # one item per conversation in flight: c-a's second item waits for its first
    first = outbox.pending(10)
    assert [i.id for i in first] == [1, 4]
    outbox.mark_sent_many([1, 4])
    assert [i.id for i in outbox.pending(10)] == [2]
    outbox.mark_sent(2)
    assert [i.id for i in outbox.pending(10)] == [3]
    outbox.mark_sent(3)
    assert outbox.pending(10) == [] and outbox.backlog() == 0
    sizes = outbox.db.execute("SELECT length(payload) FROM outbox").fetchall()
    assert all(size == 0 for (size,) in sizes)  # acknowledged payloads are not kept
    assert outbox.usage().pending_bytes == 0
    assert outbox.prune(older_than_s=0) == 4


def test_queueing_inside_a_caller_transaction_is_atomic(outbox: SqliteOutbox) -> None:
    notice = deletion_envelope(DeletionNotice(("c-1",), "opt_out", 1e9, GATEWAY_ID))
    with pytest.raises(RuntimeError), transaction(outbox.db):
        add(outbox, notice)
        raise RuntimeError("the purge failed")
    assert outbox.backlog() == 0
    with transaction(outbox.db):
        assert add(outbox, notice)
    assert outbox.backlog() == 1


def test_one_sealed_copy_per_hq_key(outbox: SqliteOutbox) -> None:
    new_tenant = X25519PrivateKey.generate()
    assert add(outbox, conversation(1), [TENANT, new_tenant])
    items = outbox.pending(10) + [outbox.pending(10)[0]]
    payloads = {i.payload for i in outbox.pending(10)}
    assert len(items) >= 2 and len(payloads) == 1  # same conversation: one copy at a time
    outbox.mark_sent(outbox.pending(1)[0].id)
    (second,) = outbox.pending(10)
    opened = [open_sealed(p, recipient_private_key=k, trusted_signers={
        IDENTITY.key_id: IDENTITY.public_key()}) for p, k in ((items[0].payload, TENANT),
                                                                (second.payload, new_tenant))]
    assert opened[0] == opened[1] == conversation(1)


def test_quota_refuses_without_adding_and_reports_levels(tmp_path: Path) -> None:
    outbox = SqliteOutbox(open_db(tmp_path / "gateway.db"), quota_bytes=3000, warn_fraction=0.5)
    levels = []
    added = 0
    with pytest.raises(OutboxFullError):
        for n in range(100):
            add(outbox, conversation(n))
            added += 1
            levels.append(outbox.usage().level)
    assert 0 < added < 10 and outbox.backlog() == added
    assert levels[0] == "ok" and "warning" in levels
    outbox.mark_sent(outbox.pending(1)[0].id)
    add(outbox, conversation(100))  # room again once something was delivered


def test_sqlite_disk_full_is_an_outbox_full_error(outbox: SqliteOutbox) -> None:
    """A real SQLITE_FULL: the database may not grow by another page."""
    pages = outbox.db.execute("PRAGMA page_count").fetchone()[0]
    outbox.db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(OutboxFullError, match="disk full"):
        for n in range(200):
            add(outbox, conversation(n))
    assert not outbox.db.conn.in_transaction


def test_egress_guard() -> None:
    env = conversation(1)
    assert check_envelope(env) is env
    smuggled = conversation(2)
    object.__setattr__(smuggled.body, "rep_id", b"\x00\x01audio")
    with pytest.raises(EgressError, match="bytes"):
        check_envelope(smuggled)
    with pytest.raises(EgressError):
        check_envelope(b"raw audio")  # type: ignore[arg-type]
    blob = seal(env, identity=IDENTITY, recipient_public_key=TENANT.public_key())
    check_sealed(TOPIC, blob)
    with pytest.raises(EgressError, match="cap"):
        check_sealed(TOPIC, blob, max_bytes=len(blob) - 1)
    with pytest.raises(EgressError, match="topic"):
        check_sealed("salestag/v1/store-1/badges/b-1/audio", blob)
    with pytest.raises(EgressError, match="differs"):
        check_sealed(upstream_topic("gw-2"), blob)
    with pytest.raises(EgressError, match="not a sealed envelope"):
        check_sealed(TOPIC, b"RIFF....WAVEfmt " + bytes(400))


def test_backoff_grows_with_jitter() -> None:
    delays = [backoff_delay(n, 1.0, 60.0) for n in range(10)]
    for n, delay in enumerate(delays):
        ceiling = min(60.0, 2.0**n)
        assert ceiling / 2 <= delay <= ceiling
    assert len({backoff_delay(5, 1.0, 60.0) for _ in range(20)}) > 1


TRANSCRIPT = [
    "Honestly the price is more than we can afford this quarter.",
    "Call me at five five five two one two four three six eight or mail jane@example.com.",
    "Another company quoted us less. Do you offer financing?",
]


def test_privacy_of_everything_the_upstream_broker_receives_under_faults(
    tmp_path: Path,
) -> None:
    """Envelopes built from a real conversation record and real tags (each Tag carries the
    redacted text of its span) cross a dropping, delaying link; a subscriber to ``#`` on the
    upstream broker captures everything. Nothing captured is audio or transcript text, even
    after decrypting it with HQ's key."""
    pki = make_pki(tmp_path / "pki", (GATEWAY_ID, "capture"))
    broker: Broker = start_tls_mosquitto(tmp_path / "broker", pki)
    proxy = TcpProxy(broker.port, delay_s=0.002).start()
    captured: list[tuple[str, bytes]] = []
    capture = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5, client_id="capture")
    capture.tls_set_context(client_tls_context(pki.ca, pki.cert("capture"), pki.key("capture")))
    ready = threading.Event()
    capture.on_connect = lambda c, *_: c.subscribe("#", qos=1)
    capture.on_subscribe = lambda *_: ready.set()
    capture.on_message = lambda _c, _u, m: captured.append((m.topic, bytes(m.payload)))
    capture.connect(broker.host, broker.port)
    capture.loop_start()
    db = open_db(tmp_path / "gateway.db")
    stop, cuts = threading.Event(), threading.Event()
    try:
        assert ready.wait(5)
        conversations = Conversations(db)
        annotation = annotate([Segment(i * 5.0, i * 5.0 + 4.5, text)
                               for i, text in enumerate(TRANSCRIPT)])
        assert annotation.tags and all(t.text for t in annotation.tags)
        outbox = SqliteOutbox(db)
        for n in range(40):
            conversations.create(id=f"c-{n}", badge_id="badge-1", rep_id="rep-1",
                                 site="store-1", started_at=1e9 + n, codec=0,
                                 sample_rate=16000, channels=1, wrapped_key=None)
            env = conversation_envelope(conversations.get(f"c-{n}"), annotation.tags,
                                        gateway_id=GATEWAY_ID, duration_s=15.0, speech_s=13.5)
            queue_envelope(outbox, env, identity=IDENTITY, recipient=TENANT.public_key())
        threading.Thread(target=random_cuts, args=(proxy, cuts, (0.1, 0.3)), daemon=True).start()
        publisher = UpstreamPublisher(
            outbox, host="127.0.0.1", port=proxy.port, client_id="gateway-gw-1",
            tls=client_tls_context(pki.ca, pki.cert(GATEWAY_ID), pki.key(GATEWAY_ID)),
            backoff_initial=0.05, backoff_max=0.3, connect_timeout=2.0, publish_timeout=2.0,
            idle_interval=0.1)
        publisher.tick = lambda: stop.set() if outbox.backlog() == 0 else None
        publisher.run(stop)
        wait_for(lambda: len({p for _, p in captured}) >= 40, what="the capture")
    finally:
        cuts.set()
        proxy.close()
        capture.disconnect()
        capture.loop_stop()
        db.close()
        broker.stop()
    words = {w.strip(".,?").lower() for line in TRANSCRIPT for w in line.split() if len(w) > 4}
    tag_names = " ".join(t.tag for t in annotation.tags)
    words = {w for w in words if w not in tag_names}  # tag names are what HQ may learn
    words |= {"5552124368", "jane@example.com", "jane"}
    snippets = {t.text.lower() for t in annotation.tags}
    trusted = {IDENTITY.key_id: IDENTITY.public_key()}
    for topic, payload in captured:
        assert topic == TOPIC
        check_sealed(topic, payload)  # a sealed envelope, under the cap: no room for audio
        assert len(payload) < 4096
        plaintext = open_sealed(payload, recipient_private_key=TENANT, trusted_signers=trusted)
        assert plaintext.kind == "conversation"
        clear = to_json(plaintext).decode().lower()
        leaked = {w for w in words | snippets if w in clear}
        assert not leaked, leaked
