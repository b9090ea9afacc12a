"""Where everything lives under the gateway's data directory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gateway.credentials import credential_path


@dataclass(frozen=True)
class Layout:
    """The paths of one data directory (keys handed over by systemd win over the folder's)."""

    root: Path

    @property
    def db(self) -> Path:
        """The one SQLite database: metadata, jobs, outbox, consent ledger, audit log."""
        return self.root / "gateway.db"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def kek(self) -> Path:
        return credential_path("kek.key", self.keys / "kek.key")

    @property
    def signing_key(self) -> Path:
        return credential_path("gateway-signing.key", self.keys / "gateway-signing.key")

    @property
    def signing_public(self) -> Path:
        return self.keys / "gateway-signing.pub"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def tls(self) -> Path:
        """The local CA's certificate and the badges' server certificate and key."""
        return self.root / "tls"

    @property
    def ca_key(self) -> Path:
        return credential_path("ca.key", self.keys / "ca.key")

    @property
    def ca_cert(self) -> Path:
        return self.tls / "ca.crt"

    @property
    def broker(self) -> Path:
        """The local Mosquitto's own folder (its config, passwords, ACLs, TLS copies)."""
        return self.root / "mosquitto"

    @property
    def web_cert(self) -> Path:
        """The web UI's own certificate (when no other is configured); its key beside it."""
        return self.root / "web" / "server.crt"

    @property
    def web_key(self) -> Path:
        return self.root / "web" / "server.key"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def bundles(self) -> Path:
        """Badge enrolment bundles written by ``badge pair``."""
        return self.root / "bundles"

    @property
    def run(self) -> Path:
        """Files of the running gateway (status snapshot, pairings in progress)."""
        return self.root / "run"

    @property
    def setup_code(self) -> Path:
        """The digest of the one-time setup code, while the wizard waits for it."""
        return self.root / "setup-code.json"

    @property
    def setup_done(self) -> Path:
        """Left when the first account consumed the setup code: no code is made again."""
        return self.root / "setup-done"

    def broker_secret(self, user: str) -> Path:
        """The file holding the broker password of a local user (the gateway or the uploader)."""
        return self.keys / f"broker-{user}.secret"
