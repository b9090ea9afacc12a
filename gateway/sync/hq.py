"""The reference HQ consumer: receives sealed envelopes, verifies, decrypts, de-duplicates, stores.

Bad messages are counted and logged (never their content) and the consumer carries on. Messages
are acknowledged to the broker only after they were handled, and the MQTT session persists, so
HQ being offline or crashing loses nothing; duplicates are dropped by idempotency key.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.crypto.errors import CryptoError
from gateway.crypto.identity import TrustedSigner, load_signer, load_tenant_private_key
from gateway.sync.envelope import SealedHeader, SignerLookup, open_sealed_with_header
from gateway.sync.schema import Envelope, EnvelopeError, to_json, topic_gateway_id

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "salestag/v1/hq/+/envelopes"
Outcome = Literal["accepted", "duplicate", "rejected"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS envelopes (
    gateway_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    created_at REAL NOT NULL,
    received_at REAL NOT NULL,
    envelope TEXT NOT NULL,
    PRIMARY KEY (gateway_id, idempotency_key)
)
"""


class HqStore:
    """Received envelopes in SQLite, one row per (gateway id, idempotency key); optional JSONL."""

    def __init__(self, path: Path | None = None, *, jsonl: TextIO | None = None) -> None:
        self._db = sqlite3.connect(":memory:" if path is None else path, check_same_thread=False)
        self._lock = threading.Lock()
        self._jsonl = jsonl
        with self._lock, self._db:
            if path is not None:
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    def add(self, envelope: Envelope, header: SealedHeader) -> bool:
        """Store ``envelope``; returns False (and stores nothing) if it was already received."""
        text = to_json(envelope).decode("ascii")
        with self._lock, self._db:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO envelopes VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    header.gateway_id,
                    envelope.idempotency_key,
                    envelope.kind,
                    header.signer_key_id,
                    envelope.created_at,
                    time.time(),
                    text,
                ),
            )
        if cursor.rowcount != 1:
            return False
        if self._jsonl is not None:
            self._jsonl.write(text + "\n")
            self._jsonl.flush()
        return True

    def count(self) -> int:
        """How many distinct envelopes are stored."""
        with self._lock:
            row = self._db.execute("SELECT count(*) FROM envelopes").fetchone()
        return int(row[0])

    def close(self) -> None:
        """Close the database."""
        self._db.close()


@dataclass
class HqStats:
    """Message counters; ``received == accepted + duplicates + rejected``."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0


def signer_lookup(signers: Iterable[TrustedSigner]) -> SignerLookup:
    """A signer resolver that accepts each key only for the gateway id it was exported with."""
    by_id = {s.key_id: s for s in signers}

    def lookup(key_id: str, gateway_id: str) -> Ed25519PublicKey | None:
        signer = by_id.get(key_id)
        return signer.public_key if signer and signer.gateway_id == gateway_id else None

    return lookup


class HqConsumer:
    """Subscribes (MQTT v5, QoS 1) to gateways' envelopes and stores the authentic ones."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        recipient_private_key: X25519PrivateKey,
        trusted_signers: Mapping[str, Ed25519PublicKey] | SignerLookup,
        store: HqStore,
        topic: str = DEFAULT_TOPIC,
        client_id: str = "salestag-hq",
        tls: ssl.SSLContext | None = None,
        session_expiry_s: int = 7 * 24 * 3600,
        on_envelope: Callable[[Envelope], None] | None = None,
    ) -> None:
        self.host, self.port, self.topic = host, port, topic
        self.client_id, self.tls = client_id, tls
        self._private_key = recipient_private_key
        self._trusted = trusted_signers
        self.store = store
        self.session_expiry_s = session_expiry_s
        self.on_envelope = on_envelope
        self.stats = HqStats()
        self.subscribed = threading.Event()
        self._inbox: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue()

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Verify, decrypt, de-duplicate and store one message; counts the outcome."""
        self.stats.received += 1
        try:
            envelope, header = open_sealed_with_header(
                payload, recipient_private_key=self._private_key, trusted_signers=self._trusted
            )
            if topic_gateway_id(topic) != header.gateway_id:
                raise EnvelopeError("topic does not name the signing gateway")
        except (CryptoError, EnvelopeError) as err:
            self.stats.rejected += 1
            log.warning("rejected a %d-byte message on %s: %s", len(payload), topic, err)
            return "rejected"
        if not self.store.add(envelope, header):
            self.stats.duplicates += 1
            log.info("duplicate envelope from gateway %s dropped", header.gateway_id)
            return "duplicate"
        self.stats.accepted += 1
        if self.on_envelope is not None:
            self.on_envelope(envelope)
        return "accepted"

    def _on_connect(self, client: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if code.is_failure:
            log.warning("HQ broker %s:%d refused the connection: %s", self.host, self.port, code)
            return
        log.info("connected to HQ broker %s:%d", self.host, self.port)
        client.subscribe(self.topic, qos=1)

    def _on_subscribe(
        self, _c: mqtt.Client, _u: Any, _mid: int, codes: list[ReasonCode], _p: Any
    ) -> None:
        if all(not code.is_failure for code in codes):
            self.subscribed.set()
        else:
            log.error("subscription to %s refused: %s", self.topic, codes)

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        self.subscribed.clear()
        log.warning("HQ broker %s:%d disconnected: %s", self.host, self.port, code)

    def _on_message(self, _c: mqtt.Client, _u: Any, message: mqtt.MQTTMessage) -> None:
        self._inbox.put((message.topic, bytes(message.payload), message.mid, message.qos))

    def run(self, stop: threading.Event) -> None:
        """Receive until ``stop`` is set; paho reconnects by itself with backoff."""
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if self.tls is not None:
            client.tls_set_context(self.tls)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_connect_fail = lambda _c, _u: log.warning(
            "cannot reach HQ broker %s:%d; retrying", self.host, self.port
        )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_s
        client.connect_async(self.host, self.port, clean_start=False, properties=properties)
        client.loop_start()
        try:
            while not stop.is_set():
                try:
                    topic, payload, mid, qos = self._inbox.get(timeout=0.2)
                except queue.Empty:
                    continue
                self.handle(topic, payload)
                if qos > 0:
                    client.ack(mid, qos)
        finally:
            client.disconnect()
            client.loop_stop()
            self.subscribed.clear()


def receive_main(
    host: str,
    port: int,
    private_key_path: Path,
    signer_public_key_paths: list[Path],
    db_path: Path | None,
    jsonl: TextIO | None,
    count: int | None,
    timeout: float | None,
) -> int:
    """``salestag-gateway hq receive``: print each new envelope as a JSON line.

    Lines go to ``jsonl`` or stdout; a summary goes to stderr. Exit codes: 0 when ``count``
    envelopes arrived (or the timeout passed with no count), 1 on a timeout before ``count``,
    2 for unusable keys, 130 on Ctrl-C.
    """
    try:
        private_key = load_tenant_private_key(private_key_path)
        signers = [load_signer(path) for path in signer_public_key_paths]
    except CryptoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not signers:
        print("error: trust at least one gateway signer file", file=sys.stderr)
        return 2
    stop = threading.Event()
    store = HqStore(db_path, jsonl=jsonl if jsonl is not None else sys.stdout)

    def accepted(_envelope: Envelope) -> None:
        if count is not None and consumer.stats.accepted >= count:
            stop.set()

    consumer = HqConsumer(
        host, port, recipient_private_key=private_key, trusted_signers=signer_lookup(signers),
        store=store, on_envelope=accepted,
    )  # fmt: skip
    worker = threading.Thread(target=consumer.run, args=(stop,), name="hq-receive", daemon=True)
    worker.start()
    code = 0
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not stop.wait(0.2) and worker.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        code = 130
    if not stop.is_set() and not worker.is_alive():
        code = 1  # the consumer stopped on an error it could not handle; it was logged
    stop.set()
    worker.join(timeout=10)
    store.close()
    stats = consumer.stats
    print(json.dumps({"summary": vars(stats)}), file=sys.stderr)
    if code == 0 and count is not None and stats.accepted < count:
        code = 1
    return code
