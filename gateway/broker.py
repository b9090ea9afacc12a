"""The local Mosquitto broker's configuration, generated from the gateway's config and badges.

Two listeners (``per_listener_settings true``):

- **badges**: TLS on ``broker.tls_bind:tls_port``. A client certificate from the gateway's
  local CA is required and its common name becomes the MQTT user name
  (``use_identity_as_username``). The ACL grants each *paired, active* badge its own topics and
  nothing else: ``user <badge>`` followed by ``topic`` lines of that badge only.
- **gateway**: plain MQTT on the loopback address, for the gateway itself and the Wi-Fi upload
  server, each with a password (``passwd``, PBKDF2-SHA512 as ``mosquitto_passwd`` writes it).

Revocation and new badges take effect by rewriting ``acl-badges`` and ``crl.pem`` and sending the
broker SIGHUP (:func:`refresh_badges`); no other badge is disconnected. Measured with Debian's
Mosquitto 2.0.11: on SIGHUP it rereads ``acl_file`` and ``password_file``, and its TLS listener
reloads ``certfile``/``keyfile`` and the ``crlfile`` with them. A revoked badge's new TLS
handshakes then fail (certificate verify failed); a connection it already had stays open, but
the reloaded ACL refuses its publishes (MQTT v5 PUBACK 135) and delivers it nothing.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import pwd
import secrets
import signal
import socket
from dataclasses import dataclass
from pathlib import Path

import sqlite_utils

from gateway.config import Config
from gateway.credentials import credential_path
from gateway.crypto.keyfiles import read_secret, write_file_atomically, write_secret
from gateway.pki.ca import LocalCA
from gateway.protocol.topics import PREFIX, TopicKind, gateway_status_topic
from gateway.store.layout import Layout

log = logging.getLogger(__name__)

MOSQUITTO_USER = "mosquitto"
UPLOAD_USER = "salestag-upload"
SERVER_CERT_DAYS = 825
_PBKDF2_ITERATIONS = 101


@dataclass(frozen=True)
class BrokerFiles:
    """Everything the broker reads, in its own folder under the data directory."""

    directory: Path

    @property
    def conf(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl_local(self) -> Path:
        return self.directory / "acl-local"

    @property
    def acl_badges(self) -> Path:
        return self.directory / "acl-badges"

    @property
    def ca(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"

    @property
    def crl(self) -> Path:
        return self.directory / "crl.pem"

    @property
    def pid(self) -> Path:
        return self.directory / "mosquitto.pid"


def broker_dir(config: Config) -> Path:
    return config.data_dir / "mosquitto"


def pki_dir(config: Config) -> Path:
    """The server certificate and key of the broker and the upload server."""
    return config.data_dir / "tls"


def secret_path(config: Config, user: str) -> Path:
    """The file holding the broker password of a local user (the gateway or the uploader)."""
    return config.data_dir / "keys" / f"broker-{user}.secret"


def advertised_host(config: Config) -> str:
    return config.broker.advertised_host or socket.gethostname()


def load_ca(config: Config) -> LocalCA:
    """The local CA: key from systemd's credentials or ``keys/ca.key``; ``tls/ca.crt``."""
    key = credential_path("ca.key", config.data_dir / "keys" / "ca.key")
    return LocalCA.load_or_create(key, config.data_dir / "tls" / "ca.crt",
                                  f"SalesTag local CA {config.site.gateway_id}")


def password_line(user: str, password: str, salt: bytes | None = None) -> str:
    """A ``mosquitto_passwd`` line (``$7$``: PBKDF2-HMAC-SHA512, 101 iterations)."""
    salt = salt or secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, _PBKDF2_ITERATIONS)
    return (f"{user}:$7${_PBKDF2_ITERATIONS}${base64.b64encode(salt).decode()}"
            f"${base64.b64encode(digest).decode()}")


def local_password(config: Config, user: str) -> str:
    """The password of a local broker user, created on first use (a 0600 key file)."""
    path = secret_path(config, user)
    if not path.exists():
        write_secret(path, secrets.token_urlsafe(24).encode())
    return read_secret(path).decode()


def badge_topics(site: str, badge_id: str) -> list[tuple[str, str]]:
    """(access, topic) a badge is granted: its own topics, and the gateway's presence."""
    base = f"{PREFIX}/{site}/badges/{badge_id}"
    return [("write", f"{base}/{TopicKind.AUDIO}"), ("write", f"{base}/{TopicKind.CONTROL}"),
            ("write", f"{base}/{TopicKind.STATUS}"), ("read", f"{base}/{TopicKind.ACK}"),
            ("read", gateway_status_topic(site))]


def render_badge_acl(site: str, badge_ids: list[str]) -> str:
    """ACL of the badge listener: each active badge its own topics, everyone else nothing."""
    lines = ["# Generated by salestag-gateway: one block per paired, active badge."]
    for badge_id in sorted(badge_ids):
        lines += ["", f"user {badge_id}"]
        lines += [f"topic {access} {topic}" for access, topic in badge_topics(site, badge_id)]
    return "\n".join(lines) + "\n"


def render_local_acl(config: Config) -> str:
    """ACL of the loopback listener: the gateway, the uploader, and optional anonymous topics."""
    site = config.site.id
    badges = f"{PREFIX}/{site}/badges/+"
    lines = ["# Generated by salestag-gateway."]
    lines += [f"topic readwrite {topic}" for topic in config.broker.anonymous_local_topics]
    lines += ["", f"user {config.broker.username}"]
    lines += [f"topic read {badges}/{kind}" for kind in
              (TopicKind.AUDIO, TopicKind.CONTROL, TopicKind.STATUS)]
    lines += [f"topic write {badges}/{TopicKind.ACK}",
              f"topic readwrite {gateway_status_topic(site)}",
              "", f"user {UPLOAD_USER}",
              f"topic write {badges}/{TopicKind.AUDIO}",
              f"topic write {badges}/{TopicKind.CONTROL}",
              f"topic read {badges}/{TopicKind.ACK}"]
    return "\n".join(lines) + "\n"


def render_mosquitto_config(config: Config) -> str:
    """Mosquitto settings for the gateway's broker (see the module docstring)."""
    files = BrokerFiles(broker_dir(config))
    broker = config.broker
    lines = [
        "# Generated by salestag-gateway from its config; changes here are overwritten.",
        "per_listener_settings true",
        f"user {broker.user}",
        f"pid_file {files.pid}",
        "max_packet_size 262144",
        "# acks are small: without this, Nagle's algorithm holds them for a delayed TCP ack",
        "set_tcp_nodelay true",
        "max_inflight_messages 64",
        "max_queued_messages 100000",
        "persistence true",
        f"persistence_location {files.directory}/",
        "autosave_interval 30",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "",
        "# the gateway and the upload server, on this box only",
        f"listener {broker.port} {broker.host}",
        f"allow_anonymous {'true' if broker.anonymous_local_topics else 'false'}",
        f"password_file {files.passwd}",
        f"acl_file {files.acl_local}",
    ]
    if broker.tls_port:
        lines += [
            "",
            "# badges: TLS with a client certificate from the gateway's CA",
            f"listener {broker.tls_port} {broker.tls_bind}",
            f"cafile {files.ca}",
            f"certfile {files.cert}",
            f"keyfile {files.key}",
            f"crlfile {files.crl}",
            "require_certificate true",
            "use_identity_as_username true",
            "tls_version tlsv1.2",
            "allow_anonymous false",
            f"acl_file {files.acl_badges}",
        ]
    return "\n".join(lines) + "\n"


def _broker_owned(path: Path) -> None:
    """Give a file to the broker's account (when running as root), so it can reread it."""
    if os.geteuid() != 0 or not path.exists():
        return
    try:
        entry = pwd.getpwnam(MOSQUITTO_USER)
    except KeyError:
        return
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _write(path: Path, data: bytes, mode: int = 0o640) -> None:
    write_file_atomically(path, data, mode, replace=True)
    _broker_owned(path)


def ensure_server_certificate(config: Config, ca: LocalCA) -> tuple[bytes, bytes]:
    """The badges' server certificate and key (broker and upload server), issued once."""
    cert_path, key_path = pki_dir(config) / "badges.crt", pki_dir(config) / "badges.key"
    if not cert_path.exists():
        hosts = [advertised_host(config), "localhost", "127.0.0.1"]
        issued = ca.issue_server(hosts, SERVER_CERT_DAYS)
        write_file_atomically(key_path, issued.key_pem, 0o600, replace=True)
        write_file_atomically(cert_path, issued.cert_pem, 0o644, replace=True)
    return cert_path.read_bytes(), key_path.read_bytes()


def write_mosquitto_config(config: Config, active_badges: list[str] | None = None,
                           revoked: list[tuple[int, float]] | None = None) -> Path:
    """Write the broker's config, passwords, ACLs and TLS files into its own folder."""
    files = BrokerFiles(broker_dir(config))
    files.directory.mkdir(parents=True, exist_ok=True, mode=0o750)
    _broker_owned(files.directory)
    ca = load_ca(config)
    cert, key = ensure_server_certificate(config, ca)
    _write(files.ca, ca.cert_pem, 0o644)
    _write(files.cert, cert, 0o644)
    _write(files.key, key, 0o600)
    passwd = [password_line(config.broker.username, local_password(config, "gateway")),
              password_line(UPLOAD_USER, local_password(config, "upload"))]
    _write(files.passwd, ("\n".join(passwd) + "\n").encode(), 0o600)
    _write(files.acl_local, render_local_acl(config).encode())
    db_path = Layout(config.data_dir).db
    if active_badges is None and db_path.exists():
        from gateway.pki.registry import BadgeRegistry
        from gateway.store.db import open_db

        db = open_db(db_path)
        try:
            registry = BadgeRegistry(db)
            active_badges, revoked = registry.active_ids(), registry.revoked_serials()
        finally:
            db.close()
    write_badge_files(config, ca, active_badges or [], revoked or [])
    files.conf.write_text(render_mosquitto_config(config), encoding="utf-8")
    return files.conf


def write_badge_files(config: Config, ca: LocalCA, active_badges: list[str],
                      revoked: list[tuple[int, float]]) -> None:
    """Rewrite the badge ACL and the CRL (atomically: the broker sees old or new, never half)."""
    files = BrokerFiles(broker_dir(config))
    _write(files.acl_badges, render_badge_acl(config.site.id, active_badges).encode())
    _write(files.crl, ca.crl(revoked), 0o644)


def reload_broker(config: Config) -> bool:
    """Send the running broker SIGHUP (found through its pid file); False if none runs."""
    pid_file = BrokerFiles(broker_dir(config)).pid
    try:
        pid = int(pid_file.read_text().strip())
        if Path(f"/proc/{pid}/comm").read_text().strip() != "mosquitto":
            raise ValueError("stale pid file")
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError):
        log.info("no running broker found through %s; the change applies at its next start",
                 pid_file)
        return False
    log.info("broker %d reloads its ACL", pid)
    return True


def refresh_badges(config: Config, db: sqlite_utils.Database, *, reload: bool = True) -> bool:
    """Rewrite the badge ACL and CRL from the registry; SIGHUP the broker if ``reload``."""
    from gateway.pki.registry import BadgeRegistry

    registry = BadgeRegistry(db)
    write_badge_files(config, load_ca(config), registry.active_ids(),
                      registry.revoked_serials())
    return reload_broker(config) if reload else False
