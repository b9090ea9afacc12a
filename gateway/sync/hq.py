"""The reference HQ consumer: receives sealed envelopes, verifies, decrypts, de-duplicates, applies.

Bad messages are counted and logged (never their content) and the consumer carries on. Messages
are acknowledged to the broker only after they were applied, and the MQTT session persists, so
HQ being offline or crashing loses nothing; duplicates are dropped by idempotency key in the
shared :class:`HqStore`. Several consumers split the load with an MQTT v5 shared subscription
(``$share/<group>/...``); because they share one store, each envelope is applied exactly once.
HQ may hold several tenant private keys at once (key rotation): a gateway seals one copy per key,
and a copy for a key this consumer lacks is skipped, not rejected.
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
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
from gateway.crypto.identity import (
    TrustedSigner,
    load_signer,
    load_tenant_private_key,
    x25519_key_id,
)
from gateway.sync.continuity import AuditKeyLookup
from gateway.sync.envelope import SignerLookup, open_sealed_with_header, parse_sealed_header
from gateway.sync.hq_store import HqStore
from gateway.sync.mqttclient import Client
from gateway.sync.schema import Envelope, EnvelopeError, topic_gateway_id
from gateway.sync.tls import client_tls_context

log = logging.getLogger(__name__)

DEFAULT_TOPIC = "salestag/v1/hq/+/envelopes"
Outcome = Literal["accepted", "duplicate", "deleted", "not_ours", "rejected"]

__all__ = ["DEFAULT_TOPIC", "HqConsumer", "HqStats", "HqStore", "ReceiveOptions", "receive_main",
           "signer_lookup", "audit_key_lookup"]  # fmt: skip


@dataclass
class HqStats:
    """Message counters; ``received`` is the sum of all the others."""

    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    deleted: int = 0
    not_ours: int = 0
    rejected: int = 0


def signer_lookup(signers: Iterable[TrustedSigner]) -> SignerLookup:
    """A signer resolver that accepts each key only for the gateway id it was exported with."""
    by_id = {s.key_id: s for s in signers}

    def lookup(key_id: str, gateway_id: str) -> Ed25519PublicKey | None:
        signer = by_id.get(key_id)
        return signer.public_key if signer and signer.gateway_id == gateway_id else None

    return lookup


def audit_key_lookup(signers: Iterable[TrustedSigner]) -> AuditKeyLookup:
    """Gateway id -> the audit-checkpoint keys HQ trusts for it."""
    by_gateway: dict[str, list[Ed25519PublicKey]] = {}
    for signer in signers:
        by_gateway.setdefault(signer.gateway_id, []).append(signer.public_key)
    return lambda gateway_id: by_gateway.get(gateway_id, [])


class HqConsumer:
    """Subscribes (MQTT v5, QoS 1) to gateways' envelopes and applies the authentic ones."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        recipient_private_key: X25519PrivateKey | Sequence[X25519PrivateKey],
        trusted_signers: Mapping[str, Ed25519PublicKey] | SignerLookup,
        store: HqStore,
        topic: str = DEFAULT_TOPIC,
        share_group: str | None = None,
        client_id: str = "salestag-hq",
        tls: ssl.SSLContext | None = None,
        session_expiry_s: int = 7 * 24 * 3600,
        on_envelope: Callable[[Envelope], None] | None = None,
    ) -> None:
        self.host, self.port = host, port
        self.topic = f"$share/{share_group}/{topic}" if share_group else topic
        self.client_id, self.tls = client_id, tls
        keys = ([recipient_private_key] if isinstance(recipient_private_key, X25519PrivateKey)
                else list(recipient_private_key))
        self._keys = {x25519_key_id(k): k for k in keys}
        self._trusted = trusted_signers
        self.store = store
        self.session_expiry_s = session_expiry_s
        self.on_envelope = on_envelope
        self.stats = HqStats()
        self.subscribed = threading.Event()
        self._inbox: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue()

    def handle(self, topic: str, payload: bytes) -> Outcome:
        """Verify, decrypt, de-duplicate and apply one message; counts the outcome."""
        self.stats.received += 1
        try:
            key = self._keys.get(parse_sealed_header(payload).recipient_key_id)
            if key is None:
                self.stats.not_ours += 1
                return "not_ours"
            envelope, header = open_sealed_with_header(
                payload, recipient_private_key=key, trusted_signers=self._trusted
            )
            if topic_gateway_id(topic) != header.gateway_id:
                raise EnvelopeError("topic does not name the signing gateway")
        except (CryptoError, EnvelopeError) as err:
            self.stats.rejected += 1
            log.warning("rejected a %d-byte message on %s: %s", len(payload), topic, err)
            return "rejected"
        outcome = self.store.add(envelope, header.signer_key_id)
        if outcome == "duplicate":
            self.stats.duplicates += 1
            log.debug("duplicate envelope from gateway %s dropped", header.gateway_id)
        elif outcome == "deleted":
            self.stats.deleted += 1
            log.info("envelope about a deleted conversation from %s dropped", header.gateway_id)
        else:
            self.stats.accepted += 1
            if self.on_envelope is not None:
                self.on_envelope(envelope)
        return outcome

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
        client = Client(
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


@dataclass
class ReceiveOptions:
    """What ``salestag-gateway hq receive`` was asked to do."""

    host: str = "127.0.0.1"
    port: int = 1883
    private_keys: list[Path] = field(default_factory=list)
    signers: list[Path] = field(default_factory=list)
    audit_signers: list[Path] = field(default_factory=list)
    db: Path | None = None
    jsonl: Path | None = None
    count: int | None = None
    timeout: float | None = None
    share_group: str | None = None
    client_id: str = "salestag-hq"
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    tls: bool = False


def receive_main(options: ReceiveOptions, out: TextIO | None = None) -> int:
    """``salestag-gateway hq receive``: apply envelopes, print each new one as a JSON line.

    Lines go to ``options.jsonl``, else ``out``, else stdout; a summary goes to stderr. Exit
    codes: 0 when ``count`` envelopes arrived (or the timeout passed with no count), 1 on a timeout
    before ``count``, 2 for unusable keys, 130 on Ctrl-C.
    """
    try:
        private_keys = [load_tenant_private_key(path) for path in options.private_keys]
        signers = [load_signer(path) for path in options.signers]
        audit = [load_signer(path) for path in options.audit_signers]
        tls = (client_tls_context(options.ca_file, options.cert_file, options.key_file)
               if options.tls or options.ca_file or options.cert_file else None)
    except CryptoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if not signers or not private_keys:
        print("error: give at least one tenant key and one trusted gateway signer file",
              file=sys.stderr)
        return 2
    sink = options.jsonl.open("a", encoding="utf-8") if options.jsonl else None
    stop = threading.Event()
    store = HqStore(options.db, jsonl=sink or out or sys.stdout,
                    audit_keys=audit_key_lookup(audit) if audit else None)
    count = options.count

    def accepted(_envelope: Envelope) -> None:
        if count is not None and consumer.stats.accepted >= count:
            stop.set()

    consumer = HqConsumer(
        options.host, options.port, recipient_private_key=private_keys,
        trusted_signers=signer_lookup(signers), store=store, on_envelope=accepted,
        share_group=options.share_group, client_id=options.client_id, tls=tls,
    )  # fmt: skip
    worker = threading.Thread(target=consumer.run, args=(stop,), name="hq-receive", daemon=True)
    worker.start()
    code = 0
    try:
        deadline = None if options.timeout is None else time.monotonic() + options.timeout
        while not stop.wait(0.2) and worker.is_alive():
            if deadline is not None and time.monotonic() >= deadline:
                break
    except KeyboardInterrupt:
        code = 130
    if not stop.is_set() and not worker.is_alive():
        code = 1  # the consumer stopped on an error it could not handle; it was logged
    stop.set()
    worker.join(timeout=10)
    alerts = store.alerts()
    store.close()
    if sink is not None:
        sink.close()
    stats = consumer.stats
    print(json.dumps({"summary": vars(stats), "audit_alerts": len(alerts)}),
          file=sys.stderr)
    if code == 0 and count is not None and stats.accepted < count:
        code = 1
    return code

