"""Health of the box for the dashboard, /healthz and /metrics.

The service writes a small status snapshot (broker link, badges, engine, workers) to
``DATA_DIR/run/status.json`` every few seconds; anything else (job queue, sync backlog, disk,
CPU temperature and load) is read where it lives. :func:`evaluate` turns the facts into
``ok``/``degraded`` with reasons, as a pure function.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlite_utils

from gateway.crypto.keyfiles import write_file_atomically
from gateway.store.layout import Layout

STALE_AFTER_S = 20.0
DISK_LOW_FRACTION = 0.10
HOT_CELSIUS = 80.0
BADGE_RECENT_S = 120.0
WORKER_FAILURE_RECENT_S = 900.0  #: a worker's failure is reported this long after it

Provider = Callable[[], Mapping[str, Any]]


def status_path(data_dir: Path) -> Path:
    return Layout(data_dir).run / "status.json"


class StatusBoard:
    """Named providers of live facts, gathered into one snapshot the service writes out."""

    def __init__(self) -> None:
        self._providers: dict[str, Provider] = {}

    def provide(self, name: str, provider: Provider) -> None:
        self._providers[name] = provider

    def snapshot(self) -> dict[str, Any]:
        data: dict[str, Any] = {"written_at": time.time(), "pid": os.getpid()}
        for name, provider in list(self._providers.items()):
            try:
                data[name] = dict(provider())
            except Exception as exc:  # noqa: BLE001 - one bad provider must not hide the rest
                data[name] = {"error": type(exc).__name__}
        return data

    def write(self, path: Path) -> None:
        write_file_atomically(path, json.dumps(self.snapshot()).encode(), 0o600, replace=True)


def read_status(path: Path) -> dict[str, Any]:
    """The service's last snapshot, or {} if there is none or it is unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Facts:
    """Everything the dashboard shows, gathered at one moment."""

    now: float
    service_running: bool
    service_age_s: float | None
    broker_connected: bool | None
    engine: dict[str, Any]
    jobs: dict[str, int]
    sync_backlog: int
    sync_last_success: float | None
    upstream_enabled: bool
    disk_total: int
    disk_free: int
    cpu_temp_c: float | None
    load: tuple[float, float, float]
    badges: list[dict[str, Any]] = field(default_factory=list)
    ingest: dict[str, Any] = field(default_factory=dict)
    workers: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def cpu_temperature(thermal: Path = Path("/sys/class/thermal")) -> float | None:
    """The highest thermal-zone temperature in °C, or None where the hardware has none."""
    temps: list[float] = []
    for zone in sorted(thermal.glob("thermal_zone*/temp")):
        try:
            temps.append(int(zone.read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(temps) if temps else None


def queue_facts(db: sqlite_utils.Database) -> tuple[dict[str, int], int, float | None]:
    """Job counts by state, pending outbox envelopes, and the time of the last one sent."""
    jobs = {str(r[0]): int(r[1]) for r in db.execute(
        "SELECT state, count(*) FROM jobs GROUP BY state").fetchall()}
    backlog = int(db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
    last = db.execute("SELECT max(sent_at) FROM outbox").fetchone()[0]
    return jobs, backlog, float(last) if last is not None else None


def badge_rows(status: Mapping[str, Any], now: float) -> list[dict[str, Any]]:
    """Badges from the snapshot, online ones first, each with seconds since last seen."""
    ingest = status.get("ingest") or {}
    badges = ingest.get("badges") or {}
    seen = ingest.get("last_seen") or {}
    rows = []
    for badge_id in sorted(set(badges) | set(seen)):
        info = badges.get(badge_id) or {}
        last = seen.get(badge_id)
        rows.append({"badge_id": badge_id, "state": info.get("state", "unknown"),
                     "battery_pct": info.get("battery_pct"), "rssi_dbm": info.get("rssi_dbm"),
                     "last_seen": last,
                     "last_seen_ago_s": round(now - last, 1) if last else None})
    rows.sort(key=lambda r: (r["state"] != "online", r["badge_id"]))
    return rows


def stored_badges(db: sqlite_utils.Database, now: float) -> list[dict[str, Any]] | None:
    """Badge health the ingest keeps in the database, or None where it keeps none."""
    try:
        from gateway.ingest.health import badge_health

        badges = badge_health(db)
    except (ImportError, sqlite3.Error):
        return None
    return [{**b.as_dict(),
             "last_seen_ago_s": round(now - b.last_seen, 1) if b.last_seen else None}
            for b in badges]


def broker_reachable(host: str, port: int, timeout_s: float = 0.5) -> bool:
    """Whether the local broker accepts TCP connections."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


def gather(data_dir: Path, db: sqlite_utils.Database, *, upstream_enabled: bool,
           broker: tuple[str, int] | None = None, now: float | None = None) -> Facts:
    """Read every fact for the dashboard (cheap: a few small queries and file reads)."""
    now = time.time() if now is None else now
    status = read_status(status_path(data_dir))
    written = status.get("written_at")
    age = now - float(written) if isinstance(written, (int, float)) else None
    running = age is not None and age <= STALE_AFTER_S
    ingest = status.get("ingest") or {}
    connected: bool | None = bool(ingest.get("connected")) if running and ingest else None
    if connected is None and broker is not None:
        connected = broker_reachable(*broker)
    jobs, backlog, last_sent = queue_facts(db)
    disk = shutil.disk_usage(data_dir)
    badges = stored_badges(db, now)
    return Facts(
        now=now, service_running=running, service_age_s=round(age, 1) if age else age,
        broker_connected=connected, engine=dict(status.get("engine") or {}) if running else {},
        jobs=jobs, sync_backlog=backlog, sync_last_success=last_sent,
        upstream_enabled=upstream_enabled, disk_total=disk.total, disk_free=disk.free,
        cpu_temp_c=cpu_temperature(), load=os.getloadavg(),
        badges=badges if badges is not None else badge_rows(status, now),
        ingest={"messages": ingest.get("messages", 0), "rejected": ingest.get("rejected", {})},
        workers=dict(status.get("workers") or {}) if running else {})


def evaluate(facts: Facts) -> tuple[str, list[str]]:
    """``ok`` or ``degraded``, and the reasons a person should act on."""
    reasons: list[str] = []
    if not facts.service_running:
        reasons.append("the gateway service is not running")
    elif facts.broker_connected is False:
        reasons.append("the gateway is not connected to the local broker")
    reasons += worker_problems(facts.workers, facts.now)
    if facts.engine.get("error"):
        reasons.append("the speech engine is not ready")
    if facts.jobs.get("failed"):
        reasons.append(f"{facts.jobs['failed']} transcription jobs failed")
    if facts.disk_total and facts.disk_free / facts.disk_total < DISK_LOW_FRACTION:
        reasons.append("less than 10% disk space left")
    if facts.cpu_temp_c is not None and facts.cpu_temp_c >= HOT_CELSIUS:
        reasons.append(f"CPU is hot ({facts.cpu_temp_c:.0f} °C)")
    if facts.upstream_enabled and facts.sync_backlog and facts.sync_last_success is not None \
            and facts.now - facts.sync_last_success > 3600:
        reasons.append("no envelope reached HQ for over an hour")
    return ("degraded" if reasons else "ok"), reasons


def worker_problems(workers: Mapping[str, Any], now: float) -> list[str]:
    """A reason for each service worker that is not running or failed in the last
    :data:`WORKER_FAILURE_RECENT_S` (the supervisor restarted it)."""
    reasons = []
    for name, worker in sorted(workers.items()):
        failed_at = worker.get("last_failure_at")
        if not worker.get("running"):
            reasons.append(f"the {name} worker is not running")
        elif isinstance(failed_at, (int, float)) and now - failed_at < WORKER_FAILURE_RECENT_S:
            reasons.append(f"the {name} worker {worker.get('last_failure')} and was "
                           f"restarted (restarts so far: {worker.get('restarts', 0)})")
    return reasons
