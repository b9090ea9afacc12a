"""Backpressure decisions (pure): disk watermarks, per-badge rate limits, session length.

Refusing is always safe for data: a refused frame is not acked, so the badge keeps it and sends
it again later. Nothing the gateway has acked is ever dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.protocol.acks import RefusalReason


@dataclass
class DiskWatermark:
    """Refuses new sessions from the high mark until usage falls back to the low mark."""

    quota_bytes: int
    high_pct: int
    low_pct: int
    min_free_bytes: int
    refusing: bool = False

    def update(self, used_bytes: int, free_bytes: int) -> bool:
        """Take the current spool usage and free disk space; returns whether to refuse."""
        pct = 100 * used_bytes / self.quota_bytes
        if pct >= self.high_pct or free_bytes < self.min_free_bytes:
            self.refusing = True
        elif pct <= self.low_pct and free_bytes >= self.min_free_bytes:
            self.refusing = False
        return self.refusing

    def full(self, used_bytes: int) -> bool:
        """At the quota itself even running sessions must wait (their frames stay unacked)."""
        return used_bytes >= self.quota_bytes


@dataclass
class TokenBucket:
    """``rate`` units per second on average, up to ``burst`` at once."""

    rate: float
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def take(self, amount: float, now: float) -> bool:
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if amount > self.tokens:
            return False
        self.tokens -= amount
        return True


@dataclass
class Admission:
    """Whether a new session or a frame may come in now, and why not."""

    disk: DiskWatermark
    rate_bytes_s: float
    burst_bytes: float
    max_session_ms: int
    used_bytes: int = 0
    free_bytes: int = 2**62
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def observe_disk(self, used_bytes: int, free_bytes: int) -> None:
        self.used_bytes, self.free_bytes = used_bytes, free_bytes
        self.disk.update(used_bytes, free_bytes)

    def wrote(self, nbytes: int) -> None:
        self.used_bytes += nbytes
        self.disk.update(self.used_bytes, self.free_bytes)

    def new_session(self) -> RefusalReason | None:
        return "disk_full" if self.disk.refusing else None

    def frame(self, badge_id: str, size: int, timestamp_ms: int, now: float
              ) -> RefusalReason | None:
        if timestamp_ms > self.max_session_ms:
            return "session_too_long"
        if self.disk.full(self.used_bytes):
            return "disk_full"
        bucket = self._buckets.setdefault(badge_id, TokenBucket(self.rate_bytes_s,
                                                                self.burst_bytes))
        return None if bucket.take(size, now) else "rate_limited"
