"""What the assembler reports: session starts, audio chunks in order, gaps, and session ends."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.protocol.frames import Codec

FinishReason = Literal["final", "stop", "timeout"]


@dataclass(frozen=True, slots=True)
class Started:
    """A session began. ``rep_id`` is "unknown" when its first frame came before its start
    message; a second Started for the same session follows when that message arrives."""

    badge_id: str
    session_id: str
    rep_id: str
    started_at: float
    codec: Codec
    sample_rate: int
    channels: int
    customer_ref: str | None
    consent_declared: bool


@dataclass(frozen=True, slots=True)
class Chunk:
    """One frame's payload, released once and in strictly increasing ``seq`` per session."""

    badge_id: str
    session_id: str
    seq: int
    timestamp_ms: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class Gap:
    """Frames ``first_missing..last_missing`` (inclusive) were given up; chunks after it follow."""

    badge_id: str
    session_id: str
    first_missing: int
    last_missing: int


@dataclass(frozen=True, slots=True)
class Finished:
    """A session ended: nothing more is released for it and its id is refused from now on.

    ``reason`` says how its end became known: its final frame, its stop message, or neither
    before it fell idle. ``frames`` counts distinct frames received, ``gaps`` Gap events.
    """

    badge_id: str
    session_id: str
    reason: FinishReason
    frames: int
    duplicates: int
    gaps: int


Event = Started | Chunk | Gap | Finished


@dataclass(frozen=True, slots=True)
class BadgeStats:
    """Counters of one badge over all its sessions since the assembler was created."""

    frames: int = 0
    duplicates: int = 0
    gaps: int = 0
    rejected: int = 0
