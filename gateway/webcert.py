"""The web UI's TLS certificate: an operator's own, one from the gateway's CA, or self-signed.

``salestag-gateway init`` makes a self-signed ECDSA P-256 certificate for the box's names
(localhost, 127.0.0.1, the host name and ``<host>.local``) when no other is configured, so the
web UI is HTTPS from its first start. No private key ever leaves the data directory.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gateway.config import Config
from gateway.crypto.keyfiles import write_file_atomically, write_secret
from gateway.errors import GatewayError

log = logging.getLogger(__name__)

VALID_DAYS = 825


class WebCertError(GatewayError):
    """The web UI's certificate or key is missing or unreadable."""


@dataclass(frozen=True)
class WebCert:
    cert: Path
    key: Path


def web_cert_paths(config: Config) -> WebCert:
    """Where the web UI's certificate and key are (configured, else under DATA_DIR/web)."""
    web = config.web
    if web.tls_cert or web.tls_key:
        if not (web.tls_cert and web.tls_key):
            raise WebCertError("set both web.tls_cert and web.tls_key, or neither")
        return WebCert(config.data_path(web.tls_cert), config.data_path(web.tls_key))
    return WebCert(config.data_dir / "web" / "server.crt", config.data_dir / "web" / "server.key")


def host_names() -> list[str]:
    """The names a browser on the store network may use for this box."""
    names = ["localhost"]
    host = socket.gethostname().split(".")[0]
    if host and host != "localhost":
        names += [host, f"{host}.local"]
    return names


def self_signed(names: list[str], *, days: int = VALID_DAYS) -> tuple[bytes, bytes]:
    """A self-signed server certificate and its PKCS#8 key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0]),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "SalesTag Gateway")])
    alt: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    alt += [x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1"))]
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def ensure_web_cert(config: Config) -> WebCert:
    """The web certificate, making a self-signed one if none is configured or present."""
    paths = web_cert_paths(config)
    if paths.cert.exists() and paths.key.exists():
        return paths
    if config.web.tls_cert:
        raise WebCertError(f"web.tls_cert {paths.cert} or web.tls_key {paths.key} is missing")
    cert_pem, key_pem = self_signed(host_names())
    paths.key.unlink(missing_ok=True)
    write_secret(paths.key, key_pem)
    write_file_atomically(paths.cert, cert_pem, 0o644, replace=True)
    log.info("made a self-signed web UI certificate %s", paths.cert)
    return paths


def fingerprint(cert_file: Path) -> str:
    """The certificate's SHA-256 fingerprint, to compare with what a browser shows."""
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()
