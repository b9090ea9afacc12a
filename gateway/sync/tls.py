"""TLS to the HQ broker: the broker proves itself against a CA, the gateway with its own client
certificate (mutual TLS)."""

from __future__ import annotations

import ssl
from pathlib import Path

from gateway.crypto.errors import KeyFileError


def client_tls_context(ca_file: Path | None, cert_file: Path | None = None,
                       key_file: Path | None = None) -> ssl.SSLContext:
    """A TLS 1.2+ client context verifying the broker (``ca_file`` or the system trust store)
    and presenting ``cert_file``/``key_file`` when given."""
    if key_file is not None and key_file.exists() and key_file.stat().st_mode & 0o077:
        raise KeyFileError(f"{key_file} is readable by others; run: chmod 600 {key_file}")
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    except (OSError, ssl.SSLError) as err:
        raise KeyFileError(f"cannot load TLS material for the HQ broker: {err}") from None
    return context
