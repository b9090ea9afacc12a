"""The local broker's files that come from the PKI: the CA and server certificate its TLS
listener presents, the ACL of the active badges and the revocation list of the others."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

from gateway.broker import (
    UPLOAD_USER,
    BrokerTls,
    local_password,
    reload_broker,
    write_badge_files,
    write_mosquitto_config,
)
from gateway.config import Config
from gateway.pki.certificates import ensure_server_certificate, load_ca
from gateway.pki.registry import BadgeRegistry
from gateway.store.db import open_db
from gateway.store.layout import Layout


def configure_broker(config: Config) -> Path:
    """Write the broker's whole configuration (the badges from the registry, if the database
    exists yet); returns the path of ``mosquitto.conf``."""
    ca = load_ca(config)
    server = ensure_server_certificate(config, ca)
    active: list[str] = []
    revoked: list[tuple[int, float]] = []
    path = Layout(config.data_dir).db
    if path.exists():
        db = open_db(path)
        try:
            registry = BadgeRegistry(db)
            active, revoked = registry.active_ids(), registry.revoked_serials()
        finally:
            db.close()
    tls = BrokerTls(ca=ca.cert_pem, cert=server.cert, key=server.key, crl=ca.crl(revoked))
    passwords = {config.broker.username: local_password(config, "gateway"),
                 UPLOAD_USER: local_password(config, "upload")}
    return write_mosquitto_config(config, tls, active, passwords)


def refresh_badges(config: Config, db: sqlite_utils.Database, *, reload: bool = True) -> bool:
    """Rewrite the badge ACL and CRL from the registry; SIGHUP the broker if ``reload``."""
    registry = BadgeRegistry(db)
    write_badge_files(config, registry.active_ids(),
                      load_ca(config).crl(registry.revoked_serials()))
    return reload_broker(config) if reload else False
