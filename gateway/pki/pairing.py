"""Pairing: a badge gets a client certificate, an upload token and an enrolment bundle.

The bundle folder (0700) holds ``badge.crt``, ``badge.key`` (0600), ``ca.crt`` and
``enrolment.json`` (0600: it holds the upload token), plus ``enrolment.png``, a QR code of the
enrolment JSON for an installer's phone or a badge with a camera. The private key is never in the
QR code.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from gateway.broker import advertised_host
from gateway.config import Config
from gateway.crypto.keyfiles import write_file_atomically
from gateway.pki.broker_files import refresh_badges
from gateway.pki.ca import fingerprint
from gateway.pki.certificates import load_ca
from gateway.pki.registry import Badge, BadgeRegistry, new_token
from gateway.protocol.topics import badge_topic

log = logging.getLogger(__name__)

ENROLMENT_VERSION = 1


@dataclass(frozen=True)
class Bundle:
    """Where a pairing's files went."""

    badge: Badge
    directory: Path
    enrolment: dict[str, object]

    @property
    def cert(self) -> Path:
        return self.directory / "badge.crt"

    @property
    def key(self) -> Path:
        return self.directory / "badge.key"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def qr(self) -> Path:
        return self.directory / "enrolment.png"


def enrolment_data(config: Config, badge_id: str, token: str, ca_sha256: str
                   ) -> dict[str, object]:
    """What a badge needs besides its key: where to connect and how to upload."""
    host = advertised_host(config)
    return {"v": ENROLMENT_VERSION, "site": config.site.id, "badge_id": badge_id,
            "broker": {"host": host, "port": config.broker.tls_port},
            "topic_prefix": badge_topic(config.site.id, badge_id, "audio").rsplit("/", 1)[0],
            "upload_url": f"https://{host}:{config.upload.port}/api/v1/badges/{badge_id}",
            "upload_token": token, "ca_sha256": ca_sha256}


def pair_badge(config: Config, db: sqlite_utils.Database, badge_id: str, out_dir: Path,
               *, reload: bool = True) -> Bundle:
    """Issue a badge's identity, record it, write its bundle and let the broker know."""
    import segno

    badge_topic(config.site.id, badge_id, "audio")  # validates the id
    ca = load_ca(config)
    registry = BadgeRegistry(db)
    issued = ca.issue_client(badge_id, config.badges.cert_days)
    token = new_token()
    badge = registry.add(badge_id, serial=issued.serial, fingerprint=issued.fingerprint,
                         not_after=issued.not_after, token=token)
    directory = out_dir / badge_id
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    enrolment = enrolment_data(config, badge_id, token, fingerprint(ca.cert))
    text = json.dumps(enrolment, separators=(",", ":"))
    write_file_atomically(directory / "badge.key", issued.key_pem, 0o600, replace=True)
    write_file_atomically(directory / "badge.crt", issued.cert_pem, 0o644, replace=True)
    write_file_atomically(directory / "ca.crt", ca.cert_pem, 0o644, replace=True)
    write_file_atomically(directory / "enrolment.json", text.encode() + b"\n", 0o600,
                          replace=True)
    qr = segno.make(text, error="m", micro=False)
    qr.save(str(directory / "enrolment.png"), scale=4, border=4)
    (directory / "enrolment.png").chmod(0o600)
    refresh_badges(config, db, reload=reload)
    log.info("badge %s paired (certificate serial %x)", badge_id, issued.serial)
    return Bundle(badge, directory, enrolment)


def revoke_badge(config: Config, db: sqlite_utils.Database, badge_id: str,
                 *, reload: bool = True) -> Badge:
    """Revoke a badge: the broker's ACL drops it at once (SIGHUP), the CRL at its next start."""
    badge = BadgeRegistry(db).revoke(badge_id)
    refresh_badges(config, db, reload=reload)
    log.info("badge %s revoked", badge_id)
    return badge
