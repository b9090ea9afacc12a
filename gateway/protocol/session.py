"""The reassembly state of one badge session (used by the assembler, which owns the rules)."""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.protocol.control import SessionStart
from gateway.protocol.events import Chunk, Event, Finished, FinishReason, Gap, Started
from gateway.protocol.frames import AudioFrame, Codec


@dataclass(slots=True)
class Session:
    """Frames released so far, frames held back behind a gap, and how the session ends."""

    badge_id: str
    start: SessionStart
    implicit: bool
    last_activity: float
    next_seq: int = 0  # every seq below this was released or reported in a Gap
    highest: int = -1  # highest seq received
    end_seq: int | None = None  # seq of the last frame, once the final frame or stop told it
    ended_by: FinishReason | None = None
    buffer: dict[int, tuple[AudioFrame, float]] = field(default_factory=dict)
    skipped: list[tuple[int, int]] = field(default_factory=list)
    frames: int = 0
    duplicates: int = 0

    @property
    def session_id(self) -> str:
        return self.start.session_id

    @property
    def format(self) -> tuple[Codec, int, int]:
        return self.start.codec, self.start.sample_rate, self.start.channels

    @property
    def done(self) -> bool:
        """True once every frame up to the known last one was released or given up."""
        return self.end_seq is not None and self.next_seq > self.end_seq

    @property
    def contiguous(self) -> int | None:
        """Highest seq such that every frame 0..seq was received, or None."""
        top = self.skipped[0][0] - 1 if self.skipped else self.next_seq - 1
        return top if top >= 0 else None

    def was_skipped(self, seq: int) -> bool:
        return any(first <= seq <= last for first, last in self.skipped)

    def started(self) -> Started:
        s = self.start
        return Started(self.badge_id, s.session_id, s.rep_id, s.started_at, s.codec,
                       s.sample_rate, s.channels, s.customer_ref, s.consent_declared)

    def finished(self, reason: FinishReason) -> Finished:
        return Finished(self.badge_id, self.session_id, reason, self.frames, self.duplicates,
                        len(self.skipped))

    def release(self) -> list[Event]:
        """Release the frames that now follow ``next_seq`` without a hole."""
        events: list[Event] = []
        while self.next_seq in self.buffer:
            frame, _ = self.buffer.pop(self.next_seq)
            events.append(Chunk(self.badge_id, self.session_id, frame.seq, frame.timestamp_ms,
                                frame.payload))
            self.next_seq += 1
        return events

    def skip_to(self, seq: int) -> Gap:
        """Give up on frames ``next_seq..seq-1``."""
        gap = Gap(self.badge_id, self.session_id, self.next_seq, seq - 1)
        self.skipped.append((self.next_seq, seq - 1))
        self.next_seq = seq
        return gap

    def skip_stale(self, cutoff: float) -> list[Event]:
        """Give up on the holes that some frame received before ``cutoff`` still waits behind."""
        stale = [seq for seq, (_, received) in self.buffer.items() if received < cutoff]
        return self._release_through(max(stale)) if stale else []

    def flush(self) -> list[Event]:
        """Release everything held, reporting every hole up to the known last frame."""
        events = self._release_through(max(self.buffer)) if self.buffer else []
        if self.end_seq is not None and self.next_seq <= self.end_seq:
            events.append(self.skip_to(self.end_seq + 1))
        return events

    def _release_through(self, top: int) -> list[Event]:
        """Release held frames up to ``top`` in order, skipping the holes between them."""
        events: list[Event] = []
        for seq in sorted(seq for seq in self.buffer if seq <= top):
            if seq > self.next_seq:
                events.append(self.skip_to(seq))
            events.extend(self.release())
        return events
