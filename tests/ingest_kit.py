"""Real parts for the ingest and badge tests: a gateway data directory with its generated
Mosquitto (TLS listener, ACLs, passwords), the ingest process, and paired badges."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from conftest import free_port

from gateway.broker import BrokerFiles, broker_dir
from gateway.config import Config, load_config
from gateway.crypto.datakeys import KeyStore
from gateway.ingest.badge_sim import BadgeSimulator, TlsBundle
from gateway.pki.pairing import pair_badge
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.spool import AudioSpool

SITE = "store-7"


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


@dataclass
class Gateway:
    """A gateway data directory, its broker and (when started) its ingest process."""

    root: Path
    config_path: Path
    extra: str = ""
    broker: subprocess.Popen[bytes] | None = None
    ingest: subprocess.Popen[bytes] | None = None
    logs: list[Path] = field(default_factory=list)

    @property
    def config(self) -> Config:
        return load_config(self.config_path)

    def cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gateway", "--config", str(self.config_path), *args]

    def start_broker(self) -> None:
        files = BrokerFiles(broker_dir(self.config))
        log = self.root / "mosquitto.log"
        with log.open("ab") as sink:
            self.broker = subprocess.Popen(
                [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(files.conf)],
                stdout=sink, stderr=sink)
        wait_port(self.config.broker.port)
        wait_port(self.config.broker.tls_port)

    def stop_broker(self) -> None:
        if self.broker is not None:
            self.broker.terminate()
            self.broker.wait(timeout=10)
            self.broker = None

    def start_ingest(self) -> None:
        log = self.root / "ingest.log"
        with log.open("ab") as sink:
            self.ingest = subprocess.Popen(self.cli("ingest"), stdout=sink, stderr=sink,
                                           env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill_ingest(self) -> None:
        if self.ingest is not None:
            self.ingest.send_signal(signal.SIGKILL)
            self.ingest.wait(timeout=10)
            self.ingest = None

    def stop_ingest(self) -> None:
        if self.ingest is not None:
            self.ingest.terminate()
            self.ingest.wait(timeout=20)
            self.ingest = None

    def close(self) -> None:
        self.stop_ingest()
        self.stop_broker()

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in
                         (self.root / "ingest.log", self.root / "mosquitto.log") if p.exists())

    def pair(self, badge_id: str) -> TlsBundle:
        db = open_db(self.root / "data" / "gateway.db")
        try:
            bundle = pair_badge(self.config, db, badge_id, self.root / "bundles")
        finally:
            db.close()
        return TlsBundle.from_dir(bundle.directory)

    def badge(self, badge_id: str, bundle: TlsBundle, **kwargs: object) -> BadgeSimulator:
        return BadgeSimulator(host="127.0.0.1", port=self.config.broker.tls_port, site=SITE,
                              badge_id=badge_id, tls=bundle, **kwargs)  # type: ignore[arg-type]

    def spooled(self, conversation_id: str) -> bytes:
        """The decrypted audio the gateway stored for a conversation."""
        db = open_db(self.root / "data" / "gateway.db")
        try:
            conversation = Conversations(db).get(conversation_id)
        finally:
            db.close()
        keys = KeyStore.load(self.root / "data" / "keys" / "kek.key")
        data_key = keys.unwrap(conversation.wrapped_key or b"", context=conversation_id.encode())
        return AudioSpool(self.root / "data" / "spool").read(conversation_id, data_key)

    def conversation(self, conversation_id: str) -> dict[str, object]:
        db = open_db(self.root / "data" / "gateway.db")
        try:
            return dict(next(iter(db.query("SELECT * FROM conversations WHERE id = ?",
                                           [conversation_id]))))
        finally:
            db.close()


def make_gateway(root: Path, extra: str = "") -> Gateway:
    """Write a config (broker as root, since test folders are private), run ``init``."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / "gateway.toml"
    path.write_text(f"""
[site]
id = "{SITE}"
[paths]
data_dir = "{root / 'data'}"
[broker]
port = {free_port()}
tls_port = {free_port()}
user = "root"
advertised_host = "localhost"
[ingest]
session_timeout_s = 20
{extra}
""")
    gateway = Gateway(root, path, extra)
    subprocess.run(gateway.cli("init"), check=True, capture_output=True)
    return gateway
