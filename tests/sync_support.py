"""Helpers for the upstream sync tests: a throwaway PKI, a Mosquitto with a mutual-TLS listener,
a loopback TCP proxy that delays and drops, an HQ consumer, and a gateway-side child process
(``python tests/sync_support.py produce|publish ...``) that the fault tests SIGKILL.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import random
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(Path(__file__).parent))
from conftest import Broker, free_port, launch_mosquitto  # noqa: E402

from gateway.config import Config  # noqa: E402

TENANT_SEED = bytes(range(32))
SIGNER_SEED = bytes(range(1, 33))
GATEWAY_ID = "gw-1"


# -- PKI ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """Files of a test CA, the broker's server certificate and client certificates."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    path.chmod(0o600)


def make_pki(directory: Path, clients: tuple[str, ...]) -> Pki:
    """A CA, a server certificate for localhost/127.0.0.1 and one client cert per name (CN)."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "salestag test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    pki = Pki(directory)
    pki.ca.write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    def issue(name: str, server: bool) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
                   .issuer_name(ca_name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1)))
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        cert = builder.sign(ca_key, hashes.SHA256())
        pki.cert(name).write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(pki.key(name), key)

    issue("server", server=True)
    for name in clients:
        issue(name, server=False)
    return pki


# -- broker ---------------------------------------------------------------------------------------


ACL = """\
pattern write salestag/v1/hq/%u/envelopes
user hq-consumer
topic read salestag/v1/hq/+/envelopes
user capture
topic read #
"""


def start_tls_mosquitto(directory: Path, pki: Pki, port: int | None = None, *,
                        log_packets: bool = False) -> Broker:
    """A Mosquitto with one mutual-TLS listener (client certificate required, its CN is the
    user name, an ACL confines each gateway to its own topic) and persistence on.

    ``log_packets`` logs every packet (e.g. "Received PUBACK from hq-1"), so a test can count
    what its clients acknowledged."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    acl = directory / "acl"
    acl.write_text(ACL)
    config = directory / f"mosquitto-{port}.conf"
    config.write_text("\n".join([
        f"listener {port} 127.0.0.1",
        f"cafile {pki.ca}", f"certfile {pki.cert('server')}", f"keyfile {pki.key('server')}",
        "require_certificate true", "use_identity_as_username true", "tls_version tlsv1.2",
        f"acl_file {acl}", "persistence true", f"persistence_location {directory}/",
        "max_queued_messages 100000", "log_dest stderr", "log_type error", "log_type warning",
        "log_type notice", "log_type subscribe", *(["log_type debug"] if log_packets else []),
        # as root, Mosquitto would switch to its own user, who cannot read pytest's 0700 folders
        *(["user root"] if os.geteuid() == 0 else []), ""]))
    return launch_mosquitto(config, port)


# -- proxy ----------------------------------------------------------------------------------------


@dataclass
class TcpProxy:
    """A loopback TCP proxy to ``target_port`` that can delay, hold replies, and drop links.

    ``delay_s`` delays every chunk both ways; ``hold_replies`` stops forwarding broker-to-client
    bytes (so publishes arrive but PUBACKs do not); :meth:`cut` drops every open connection;
    ``refuse`` closes new connections at once.
    """

    target_port: int
    port: int = field(default_factory=free_port)
    delay_s: float = 0.0
    hold_replies: bool = False
    refuse: bool = False
    _links: list[tuple[socket.socket, socket.socket]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    cuts: int = 0

    def start(self) -> TcpProxy:
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._server.settimeout(0.1)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.refuse:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._links.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, reply: bool) -> None:
        try:
            while not self._stop.is_set():
                if reply and self.hold_replies:
                    time.sleep(0.01)
                    continue
                ready, _, _ = select.select([source], [], [], 0.05)
                if not ready:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                if self.delay_s:
                    time.sleep(self.delay_s)
                sink.sendall(data)
        except (OSError, ValueError):  # ValueError: the socket was closed by cut()
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def cut(self) -> None:
        """Drop every open connection (both ends see a reset or EOF)."""
        with self._lock:
            links, self._links = self._links, []
        for pair in links:
            for s in pair:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self.cuts += 1

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._server.close()


def random_cuts(proxy: TcpProxy, stop: threading.Event, every_s: tuple[float, float]) -> None:
    """Cut the proxy's connections at random intervals until ``stop``."""
    rng = random.Random(7)  # noqa: S311 - test fault schedule
    while not stop.wait(rng.uniform(*every_s)):
        proxy.cut()


# -- the gateway-side child process ---------------------------------------------------------------


def child_config(data_dir: Path, pki: Pki, port: int, quota_bytes: int) -> Config:
    """A gateway Config whose upstream points at the test broker with mutual TLS."""
    config = Config()
    config.site.gateway_id = GATEWAY_ID
    config.paths.data_dir = str(data_dir)
    up = config.upstream
    up.enabled, up.host, up.port, up.tls = True, "127.0.0.1", port, True
    up.ca_file, up.client_cert_file = str(pki.ca), str(pki.cert(GATEWAY_ID))
    up.client_key_file = str(pki.key(GATEWAY_ID))
    up.tenant_public_key = str(data_dir / "tenant.pub")
    up.outbox_quota_mb = max(1, quota_bytes // (1024 * 1024))
    up.health_interval_s = 0
    return config


def _child(argv: list[str]) -> int:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from gateway.crypto.identity import GatewayIdentity, load_tenant_public_key
    from gateway.store.db import open_db
    from gateway.sync.metadata import queue_envelope
    from gateway.sync.runner import OutboxSettings, run_upstream
    from gateway.sync.schema import ConversationMetadata, Envelope, TagSpan

    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("produce", "publish"))
    parser.add_argument("--data", required=True)
    parser.add_argument("--pki", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--publish", action="store_true", help="publish while producing")
    args = parser.parse_args(argv)
    data = Path(args.data)
    config = child_config(data, Pki(Path(args.pki)), args.port, 256 * 1024 * 1024)
    identity = GatewayIdentity(Ed25519PrivateKey.from_private_bytes(SIGNER_SEED), GATEWAY_ID)
    recipients = [load_tenant_public_key(data / "tenant.pub")]
    db_path = data / "gateway.db"
    stop = threading.Event()
    if args.mode == "publish" or args.publish:
        threading.Thread(target=run_upstream, args=(config, db_path, identity, recipients, stop),
                         daemon=True).start()
    db = open_db(db_path)
    outbox = OutboxSettings().open(db)
    for n in range(args.count):
        body = ConversationMetadata(f"c-{n}", GATEWAY_ID, "store-1", "badge-1", "rep-1",
                                    1e9 + n, 1e9 + n + 60, 60.0, 30.0,
                                    (TagSpan("pricing", 1.0, 2.0, 0.9),))
        queue_envelope(outbox, Envelope("conversation", f"conversation:c-{n}", 1e9 + n, body),
                       identity=identity, recipient=recipients)
        print(f"Q {n}", flush=True)
    print("PRODUCED", flush=True)
    if args.mode == "publish" or args.publish:
        while outbox.backlog():
            time.sleep(0.05)
        print("DRAINED", flush=True)
    stop.set()
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
