"""The gateway's own certificates: its local CA and the badges' server certificate (the broker's
TLS listener and the upload server share it)."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.broker import advertised_host
from gateway.config import Config
from gateway.crypto.keyfiles import write_file_atomically
from gateway.pki.ca import LocalCA
from gateway.store.layout import Layout

SERVER_CERT_DAYS = 825


@dataclass(frozen=True)
class ServerCert:
    """The badges' server certificate and key, PEM."""

    cert: bytes
    key: bytes


def load_ca(config: Config) -> LocalCA:
    """The local CA (key from systemd's credentials or ``keys/ca.key``; ``tls/ca.crt``),
    created on a new data directory."""
    layout = Layout(config.data_dir)
    return LocalCA.load_or_create(layout.ca_key, layout.ca_cert, ca_name(config))


def ca_name(config: Config) -> str:
    """The common name of this gateway's CA."""
    return f"SalesTag local CA {config.site.gateway_id}"


def server_cert_paths(config: Config) -> tuple[str, str]:
    """Where the badges' server certificate and key are (certificate, key)."""
    tls = Layout(config.data_dir).tls
    return str(tls / "badges.crt"), str(tls / "badges.key")


def ensure_server_certificate(config: Config, ca: LocalCA) -> ServerCert:
    """The badges' server certificate and key (broker and upload server), issued once."""
    tls = Layout(config.data_dir).tls
    cert_path, key_path = tls / "badges.crt", tls / "badges.key"
    if not cert_path.exists():
        hosts = [advertised_host(config), "localhost", "127.0.0.1"]
        issued = ca.issue_server(hosts, SERVER_CERT_DAYS)
        write_file_atomically(key_path, issued.key_pem, 0o600, replace=True)
        write_file_atomically(cert_path, issued.cert_pem, 0o644, replace=True)
    return ServerCert(cert_path.read_bytes(), key_path.read_bytes())
