"""The web UI's TLS certificate: an operator's own, or one issued by the gateway's local CA.

``salestag-gateway init`` issues an ECDSA P-256 certificate from the gateway's CA for the box's
names (localhost, 127.0.0.1, ::1, the host name and ``<host>.local``) when no other is
configured, so the web UI is HTTPS from its first start and a laptop that trusts the CA
(``DATA_DIR/tls/ca.crt``, also in every badge bundle) trusts the UI. No private key ever leaves
the data directory.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from pathlib import Path

from gateway.config import Config
from gateway.crypto.keyfiles import write_file_atomically, write_secret
from gateway.pki.certificates import load_ca
from gateway.pki.errors import PkiError
from gateway.store.layout import Layout

log = logging.getLogger(__name__)

VALID_DAYS = 825


class WebCertError(PkiError):
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
    layout = Layout(config.data_dir)
    return WebCert(layout.web_cert, layout.web_key)


def host_names() -> list[str]:
    """The names a browser on the store network may use for this box."""
    names = ["localhost"]
    host = socket.gethostname().split(".")[0]
    if host and host != "localhost":
        names += [host, f"{host}.local"]
    return names


def ensure_web_cert(config: Config) -> WebCert:
    """The web certificate, issuing one from the gateway's CA if none is configured or present."""
    paths = web_cert_paths(config)
    if paths.cert.exists() and paths.key.exists():
        return paths
    if config.web.tls_cert:
        raise WebCertError(f"web.tls_cert {paths.cert} or web.tls_key {paths.key} is missing")
    issued = load_ca(config).issue_server([*host_names(), "127.0.0.1", "::1"], VALID_DAYS)
    paths.key.unlink(missing_ok=True)
    write_secret(paths.key, issued.key_pem)
    write_file_atomically(paths.cert, issued.cert_pem, 0o644, replace=True)
    log.info("issued the web UI certificate %s from the gateway's CA", paths.cert)
    return paths
