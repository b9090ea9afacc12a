"""The badge registry: which badges are paired, their certificates, upload tokens and revocation.

Upload tokens are 256-bit random values; only their SHA-256 is stored, compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from gateway.pki.errors import BadgeExists, UnknownBadge
from gateway.store.db import transaction


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True, slots=True)
class Badge:
    """A paired badge (its secrets are not here: only the token's hash)."""

    id: str
    cert_serial: int
    cert_fingerprint: str
    cert_not_after: float
    paired_at: float
    revoked_at: float | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Badge:
        return cls(row["id"], int(row["cert_serial"]), row["cert_fingerprint"],
                   row["cert_not_after"], row["paired_at"], row["revoked_at"])


class BadgeRegistry:
    """Repository of paired badges in the gateway database."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, badge_id: str, *, serial: int, fingerprint: str, not_after: float,
            token: str) -> Badge:
        """Record a newly paired badge; a revoked one of the same id is replaced."""
        with transaction(self.db):
            row = self.db.execute("SELECT revoked_at FROM badges WHERE id = ?",
                                  [badge_id]).fetchone()
            if row is not None and row[0] is None:
                raise BadgeExists(f"badge {badge_id} is already paired; revoke it first")
            self.db.execute(
                "INSERT OR REPLACE INTO badges (id, cert_serial, cert_fingerprint, "
                "cert_not_after, token_hash, paired_at, revoked_at) "
                "VALUES (?, ?, ?, ?, ?, ?, NULL)",
                [badge_id, str(serial), fingerprint, not_after, hash_token(token), time.time()])
        return self.get(badge_id)

    def get(self, badge_id: str) -> Badge:
        rows = list(self.db.query("SELECT * FROM badges WHERE id = ?", [badge_id]))
        if not rows:
            raise UnknownBadge(f"no badge {badge_id} was paired")
        return Badge.from_row(rows[0])

    def all(self) -> list[Badge]:
        return [Badge.from_row(r) for r in self.db.query("SELECT * FROM badges ORDER BY id")]

    def active_ids(self) -> list[str]:
        return [b.id for b in self.all() if b.active]

    def revoke(self, badge_id: str) -> Badge:
        """Revoke a badge's certificate and token; revoking twice is harmless."""
        badge = self.get(badge_id)
        if badge.active:
            now = time.time()
            with transaction(self.db):
                self.db.execute("UPDATE badges SET revoked_at = ? WHERE id = ?",
                                [now, badge_id])
                self.db.execute("INSERT OR IGNORE INTO revoked_certs VALUES (?, ?, ?)",
                                [str(badge.cert_serial), badge_id, now])
        return self.get(badge_id)

    def revoked_serials(self) -> list[tuple[int, float]]:
        return [(int(r[0]), float(r[1])) for r in self.db.execute(
            "SELECT serial, revoked_at FROM revoked_certs ORDER BY revoked_at").fetchall()]

    def check_token(self, badge_id: str, token: str) -> bool:
        """True if ``token`` is the upload token of the active badge ``badge_id``."""
        row = self.db.execute("SELECT token_hash, revoked_at FROM badges WHERE id = ?",
                              [badge_id]).fetchone()
        expected = row[0] if row is not None else hash_token("")
        ok = hmac.compare_digest(expected, hash_token(token))
        return bool(ok and row is not None and row[1] is None)

    def check_certificate(self, badge_id: str, fingerprint: str) -> bool:
        """True if the certificate of this fingerprint is the active badge's current one."""
        row = self.db.execute("SELECT cert_fingerprint, revoked_at FROM badges WHERE id = ?",
                              [badge_id]).fetchone()
        return bool(row is not None and row[1] is None
                    and hmac.compare_digest(row[0], fingerprint.lower()))
