"""Badge identity with the real generated Mosquitto: pairing, confinement to a badge's own
topics (MQTT v5 PUBACK 135), revocation by SIGHUP without disturbing other badges.

A refusal is always proven by the broker's own answer, never by silence: a CONNACK or PUBACK
reason code, a TLS alert naming the certificate's fault, or the broker closing the connection
and logging why.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import wait_for
from cryptography import x509
from ingest_kit import SITE, Gateway, make_gateway
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.ingest.badge_sim import TlsBundle
from gateway.pki.registry import BadgeRegistry
from gateway.store.db import open_db

NOT_AUTHORIZED = 135
ANSWER_TIMEOUT_S = 20.0  # generous: the broker answers in milliseconds; a loaded box is slow
#: what Mosquitto logs when a client certificate fails verification (unknown CA, revoked)
CERT_REFUSED_LOG = "certificate verify failed"
# paho leaves the TLS socket of a failed handshake for the garbage collector to close
HANDSHAKE_LEAK = pytest.mark.filterwarnings("ignore::ResourceWarning",
                                            "ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = make_gateway(tmp_path / "gw")
    yield gw
    gw.close()


class RawClient:
    """A plain paho v5 client (with a badge's certificate when given) that records the broker's
    answers: CONNACK and PUBACK reason codes, and whether the broker closed the connection."""

    def __init__(self, port: int, bundle: TlsBundle | None = None,
                 client_id: str = "") -> None:
        self.connack: int | None = None
        self.closed = False
        self.acks: dict[int, int] = {}
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if bundle is not None:
            self.client.tls_set(ca_certs=str(bundle.ca), certfile=str(bundle.cert),
                                keyfile=str(bundle.key))
        self.client.on_connect = lambda c, u, f, rc, p: setattr(self, "connack", rc.value)
        self.client.on_disconnect = lambda c, u, f, rc, p: setattr(self, "closed", True)
        self.client.on_publish = lambda c, u, mid, rc, p: self.acks.__setitem__(mid, rc.value)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def answer(self) -> int | None:
        """The CONNACK reason code, or None when the broker closed the connection without one."""
        wait_for(lambda: self.connack is not None or self.closed, ANSWER_TIMEOUT_S,
                 "the broker's CONNACK or its closing the connection")
        return self.connack

    def publish(self, topic: str) -> int:
        info = self.client.publish(topic, b"x", qos=1)
        wait_for(lambda: info.mid in self.acks, ANSWER_TIMEOUT_S, f"the PUBACK on {topic}")
        return self.acks[info.mid]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def topic(badge: str) -> str:
    return f"salestag/v1/{SITE}/badges/{badge}/audio"


def tls12_refusal(gateway: Gateway, bundle: TlsBundle) -> str | None:
    """The TLS alert with which the broker refuses ``bundle``'s certificate, or None if the
    handshake succeeds. TLS 1.2 makes the broker judge the client certificate inside the
    handshake, so its verdict arrives as an alert that names the fault."""
    context = ssl.create_default_context(cafile=str(bundle.ca))
    context.check_hostname = False  # the bundle's broker name is "localhost", we dial 127.0.0.1
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(bundle.cert), str(bundle.key))
    with socket.create_connection(("127.0.0.1", gateway.config.broker.tls_port),
                                  timeout=ANSWER_TIMEOUT_S) as raw:
        try:
            context.wrap_socket(raw).close()
        except ssl.SSLError as exc:
            return str(exc.reason)
    return None


def refused_after_handshake(gateway: Gateway, bundle: TlsBundle) -> bool:
    """Whether the broker closes a TLS 1.3 connection with ``bundle`` (a badge's default) before
    any CONNACK and logs a failed certificate verification for it."""
    logged = broker_log(gateway).count(CERT_REFUSED_LOG)
    client = RawClient(gateway.config.broker.tls_port, bundle, "badge-refused")
    try:
        code = client.answer()
    finally:
        client.close()
    wait_for(lambda: broker_log(gateway).count(CERT_REFUSED_LOG) > logged, ANSWER_TIMEOUT_S,
             "the broker to log the refused certificate")
    return code is None


def broker_log(gateway: Gateway) -> str:
    return (gateway.root / "mosquitto.log").read_text(errors="replace")


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
    a, b = RawClient(port, one, "badge-badge-1"), RawClient(port, two, "badge-badge-2")
    try:
        assert a.answer() == 0 and b.answer() == 0
        assert tls12_refusal(gateway, one) is None
        assert a.publish(topic("badge-1")) < 128  # success (no subscribers yet)
        assert a.publish(topic("badge-2")) == NOT_AUTHORIZED
        assert a.publish(f"salestag/v1/{SITE}/badges/badge-1/ack") == NOT_AUTHORIZED
        assert a.publish("salestag/v1/other-site/badges/badge-1/audio") == NOT_AUTHORIZED

        revoked = subprocess.run(gateway.cli("badge", "revoke", "badge-1"),
                                 capture_output=True, text=True)
        assert revoked.returncode == 0, revoked.stderr
        # the broker rereads its ACL on SIGHUP, a moment later: its open connection is muted
        wait_for(lambda: a.publish(topic("badge-1")) == NOT_AUTHORIZED, ANSWER_TIMEOUT_S,
                 "the revoked badge's publish to be refused")
        assert b.publish(topic("badge-2")) < 128  # the other badge carries on, undisturbed
        # a new connection fails: the CRL names the certificate
        assert tls12_refusal(gateway, one) == "SSLV3_ALERT_CERTIFICATE_REVOKED"
        assert refused_after_handshake(gateway, one)
        assert gateway.broker.poll() is None and gateway.broker.pid == pid
    finally:
        a.close()
        b.close()


@HANDSHAKE_LEAK
def test_unknown_certificates_and_plain_clients_are_refused(gateway: Gateway,
                                                            tmp_path: Path) -> None:
    other = make_gateway(tmp_path / "other")  # another gateway's CA
    paired = gateway.pair("badge-1")
    # the stranger trusts this gateway's CA but holds a certificate of another gateway's CA
    foreign = other.pair("badge-1")
    stranger = TlsBundle(ca=paired.ca, cert=foreign.cert, key=foreign.key)
    gateway.start_broker()
    assert tls12_refusal(gateway, paired) is None
    assert tls12_refusal(gateway, stranger) == "TLSV1_ALERT_UNKNOWN_CA"
    assert refused_after_handshake(gateway, stranger)

    anonymous = RawClient(gateway.config.broker.port)  # loopback listener, but no password
    try:
        assert anonymous.answer() == NOT_AUTHORIZED
    finally:
        anonymous.close()
    assert plain_mqtt_is_cut_off(gateway)


def plain_mqtt_is_cut_off(gateway: Gateway) -> bool:
    """Whether the TLS listener drops a plain MQTT CONNECT without a byte of answer, logging
    that it was not TLS."""
    connect = bytes([0x10, 14, 0, 4]) + b"MQTT" + bytes([5, 2, 0, 30, 0, 0, 1]) + b"x"
    with socket.create_connection(("127.0.0.1", gateway.config.broker.tls_port),
                                  timeout=ANSWER_TIMEOUT_S) as sock:
        sock.sendall(connect)
        try:
            answer = sock.recv(64)  # a timeout here is an OSError that fails the test
        except ConnectionResetError:
            answer = b""
    wait_for(lambda: "wrong version number" in broker_log(gateway), ANSWER_TIMEOUT_S,
             "the broker to log the non-TLS client")
    return answer == b""
