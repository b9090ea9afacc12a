"""Per-badge health for the web UI and metrics: presence, last seen, battery, signal, counters.

The ingest thread keeps it in memory and writes it to the ``badge_health`` table every few
seconds (:func:`save_health`); any process reads it with :func:`badge_health`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass

import sqlite_utils

from gateway.store.db import transaction


@dataclass
class BadgeHealth:
    """One badge as the gateway sees it."""

    badge_id: str
    state: str = "unknown"  #: online, offline (its last-will or goodbye), or unknown
    last_seen: float | None = None
    battery_pct: int | None = None
    rssi_dbm: int | None = None
    firmware: str | None = None
    frames: int = 0
    duplicates: int = 0
    gaps: int = 0
    rejected: int = 0

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


_COLUMNS = [f.name for f in dataclasses.fields(BadgeHealth)]


def save_health(db: sqlite_utils.Database, badges: Iterable[BadgeHealth]) -> None:
    """Upsert every badge's health in one transaction."""
    now = time.time()
    rows = [[*(getattr(b, c) for c in _COLUMNS), now] for b in badges]
    if not rows:
        return
    marks = ", ".join("?" * (len(_COLUMNS) + 1))
    with transaction(db):
        db.conn.executemany(
            f"INSERT OR REPLACE INTO badge_health ({', '.join(_COLUMNS)}, updated_at) "  # noqa: S608
            f"VALUES ({marks})", rows)


def badge_health(db: sqlite_utils.Database) -> list[BadgeHealth]:
    """Every badge the gateway has heard from, online ones first."""
    rows = db.query(f"SELECT {', '.join(_COLUMNS)} FROM badge_health")  # noqa: S608
    badges = [BadgeHealth(**row) for row in rows]
    badges.sort(key=lambda b: (b.state != "online", b.badge_id))
    return badges
