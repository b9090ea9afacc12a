"""Badge identity with the real generated Mosquitto: pairing, confinement to a badge's own
topics (MQTT v5 PUBACK 135), revocation by SIGHUP without disturbing other badges."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from cryptography import x509
from ingest_kit import SITE, Gateway, make_gateway
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.ingest.badge_sim import BadgeSimError, TlsBundle
from gateway.pki.registry import BadgeRegistry
from gateway.store.db import open_db

NOT_AUTHORIZED = 135
# paho leaves the TLS socket of a failed handshake for the garbage collector to close
HANDSHAKE_LEAK = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                            "ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = make_gateway(tmp_path / "gw")
    yield gw
    gw.close()


class RawBadge:
    """A plain paho v5 client with a badge's certificate, recording PUBACK reason codes."""

    def __init__(self, port: int, bundle: TlsBundle, client_id: str) -> None:
        self.acks: dict[int, int] = {}
        self.refused: str | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.tls_set(ca_certs=str(bundle.ca), certfile=str(bundle.cert),
                            keyfile=str(bundle.key))
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc.value)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def publish(self, topic: str) -> int:
        info = self.client.publish(topic, b"x", qos=1)
        deadline = time.monotonic() + 5
        while info.mid not in self.acks and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def topic(badge: str) -> str:
    return f"salestag/v1/{SITE}/badges/{badge}/audio"


def test_pairing_writes_a_bundle_and_a_qr_code(gateway: Gateway) -> None:
    bundle = gateway.pair("badge-1")
    folder = bundle.cert.parent
    assert folder.stat().st_mode & 0o077 == 0
    assert bundle.key.stat().st_mode & 0o077 == 0
    cert = x509.load_pem_x509_certificate(bundle.cert.read_bytes())
    ca = x509.load_pem_x509_certificate(bundle.ca.read_bytes())
    cert.verify_directly_issued_by(ca)
    assert cert.subject.rfc4514_string() == "CN=badge-1"
    enrolment = json.loads((folder / "enrolment.json").read_text())
    assert enrolment["badge_id"] == "badge-1" and enrolment["site"] == SITE
    assert enrolment["broker"] == {"host": "localhost", "port": gateway.config.broker.tls_port}
    assert "BEGIN" not in json.dumps(enrolment)  # no key in the QR data
    assert (folder / "enrolment.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    db = open_db(gateway.root / "data" / "gateway.db")
    registry = BadgeRegistry(db)
    assert registry.check_token("badge-1", enrolment["upload_token"])
    assert not registry.check_token("badge-1", enrolment["upload_token"] + "x")
    assert enrolment["upload_token"] not in (gateway.root / "data" / "gateway.db").read_bytes() \
        .decode("latin-1")
    db.close()


@HANDSHAKE_LEAK
def test_badges_are_confined_and_revocation_needs_no_broker_restart(gateway: Gateway) -> None:
    one, two = gateway.pair("badge-1"), gateway.pair("badge-2")
    gateway.start_broker()
    assert gateway.broker is not None
    pid = gateway.broker.pid
    port = gateway.config.broker.tls_port
    a, b = RawBadge(port, one, "badge-badge-1"), RawBadge(port, two, "badge-badge-2")
    try:
        time.sleep(0.3)
        assert a.publish(topic("badge-1")) < 128  # success (no subscribers yet)
        assert a.publish(topic("badge-2")) == NOT_AUTHORIZED
        assert a.publish(f"salestag/v1/{SITE}/badges/badge-1/ack") == NOT_AUTHORIZED
        assert a.publish("salestag/v1/other-site/badges/badge-1/audio") == NOT_AUTHORIZED

        revoked = subprocess.run(gateway.cli("badge", "revoke", "badge-1"),
                                 capture_output=True, text=True)
        assert revoked.returncode == 0, revoked.stderr
        time.sleep(0.5)
        assert a.publish(topic("badge-1")) == NOT_AUTHORIZED  # its open connection is muted
        assert b.publish(topic("badge-2")) < 128  # the other badge carries on, undisturbed
        with pytest.raises(BadgeSimError):  # a new connection fails the TLS handshake
            gateway.badge("badge-1", one, ack_timeout_s=2)
        assert gateway.broker.poll() is None and gateway.broker.pid == pid
    finally:
        a.close()
        b.close()


@HANDSHAKE_LEAK
def test_unknown_certificates_and_plain_clients_are_refused(gateway: Gateway,
                                                            tmp_path: Path) -> None:
    other = make_gateway(tmp_path / "other")  # another gateway's CA
    stranger = other.pair("badge-1")
    gateway.pair("badge-1")
    gateway.start_broker()
    with pytest.raises(BadgeSimError):
        gateway.badge("badge-1", stranger, ack_timeout_s=2)
    assert not connects(gateway.config.broker.tls_port)  # plain MQTT on the TLS port
    assert not connects(gateway.config.broker.port)  # loopback listener, but no password


def connects(port: int) -> bool:
    """Whether a plain, anonymous MQTT v5 client is accepted on ``port``."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    codes: list[int] = []
    client.on_connect = lambda c, u, f, rc, p: codes.append(rc.value)
    client.connect("127.0.0.1", port)
    client.loop_start()
    time.sleep(0.5)
    client.loop_stop()
    return bool(codes) and codes[0] < 128
