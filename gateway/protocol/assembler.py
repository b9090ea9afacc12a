"""Reassembly of badge sessions: frames in order, once each, with gaps and ends reported.

Pure logic: the caller passes the time as ``now`` (unix seconds, the same clock on every call;
only differences drive timeouts, and an implicit start estimates ``started_at`` from it).

Refused input raises a :class:`~gateway.protocol.errors.ProtocolError` (``FrameError`` from
:meth:`Assembler.add`, ``ControlError`` from :meth:`Assembler.start` and :meth:`Assembler.stop`)
and changes nothing except the badge's ``rejected`` counter. Duplicates are not errors: they
are dropped and counted.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import NoReturn

from gateway.protocol.control import MAX_STARTED_AT, SessionStart, SessionStop
from gateway.protocol.errors import ControlError, FrameError, ProtocolError
from gateway.protocol.events import (
    BadgeStats,
    Chunk,
    Event,
    Finished,
    FinishReason,
    Gap,
    Started,
)
from gateway.protocol.frames import AudioFrame
from gateway.protocol.session import Session

__all__ = ["Assembler", "BadgeStats", "Chunk", "Event", "Finished", "Gap", "Started"]

_Key = tuple[str, str]  # (badge_id, session_id)


@dataclass(slots=True)
class _Tally:
    frames: int = 0
    duplicates: int = 0
    gaps: int = 0
    rejected: int = 0


class Assembler:
    """Turns the frames and control messages of many badges into ordered session events.

    - Frames are released as :class:`Chunk` in strictly increasing ``seq``, each once.
    - A frame more than ``reorder_window - 1`` ahead of the next one due is refused
      (``out_of_range``); so is any frame past the session's last frame.
    - A hole that frames have waited behind for longer than ``session_timeout_s`` is given up
      (:class:`Gap`) by :meth:`expire`, and the frames after it are released.
    - A session ends when everything up to its final frame (or its stop's ``last_seq``) is
      released, or when it has been idle for longer than ``session_timeout_s``.
    - Finished sessions are remembered (the last ``remembered_sessions`` of them) and refused.
    """

    def __init__(self, *, session_timeout_s: float = 30.0, reorder_window: int = 4096,
                 remembered_sessions: int = 1024) -> None:
        if session_timeout_s <= 0 or reorder_window < 1 or remembered_sessions < 1:
            raise ValueError("timeout, reorder window and remembered sessions must be positive")
        self.session_timeout_s = session_timeout_s
        self.reorder_window = reorder_window
        self.remembered_sessions = remembered_sessions
        self._sessions: dict[_Key, Session] = {}
        self._finished: OrderedDict[_Key, int | None] = OrderedDict()
        self._tallies: dict[str, _Tally] = {}

    def start(self, badge_id: str, msg: SessionStart, now: float) -> list[Event]:
        """Begin a session, or complete one its frames already began; repeats are ignored."""
        key = (badge_id, msg.session_id)
        if key in self._finished:
            self._reject(badge_id, ControlError("session already finished", reason="replay"))
        session = self._sessions.get(key)
        if session is None:
            session = self._sessions[key] = Session(badge_id, msg, False, now)
            return [session.started()]
        if session.implicit:
            if (msg.codec, msg.sample_rate, msg.channels) != session.format:
                self._reject(badge_id, ControlError("start disagrees with the session's frames",
                                                    reason="format_mismatch"))
            session.start, session.implicit, session.last_activity = msg, False, now
            return [session.started()]
        if msg != session.start:
            self._reject(badge_id, ControlError("a different start for a started session",
                                                reason="conflict"))
        session.last_activity = now
        return []

    def add(self, badge_id: str, frame: AudioFrame, now: float) -> list[Event]:
        """Take one frame; returns what it lets through (maybe a start, chunks, the end)."""
        key = (badge_id, frame.session_id)
        if key in self._finished:
            self._reject(badge_id, FrameError("session already finished", reason="replay"))
        session = self._sessions.get(key)
        events: list[Event] = []
        if session is None:
            session = self._sessions[key] = self._implicit(badge_id, frame, now)
            events.append(session.started())
            if frame.seq >= self.reorder_window:
                events.append(session.skip_to(frame.seq))
                self._tally(badge_id).gaps += 1
        elif not self._check(session, frame, now):
            return []
        tally = self._tally(badge_id)
        tally.frames += 1
        session.frames += 1
        session.last_activity = now
        session.highest = max(session.highest, frame.seq)
        if frame.final and session.end_seq is None:
            session.end_seq, session.ended_by = frame.seq, "final"
        session.buffer[frame.seq] = (frame, now)
        events.extend(session.release())
        if session.done:
            events.append(self._finish(session, session.ended_by or "final"))
        return events

    def stop(self, badge_id: str, msg: SessionStop, now: float) -> list[Event]:
        """End a session once frames up to ``msg.last_seq`` (or the highest received) are in."""
        key = (badge_id, msg.session_id)
        if key in self._finished:
            return []
        session = self._sessions.get(key)
        if session is None:
            self._reject(badge_id, ControlError("stop for an unknown session",
                                                reason="unknown_session"))
        last = msg.last_seq
        if last is None:
            last = session.highest if session.end_seq is None else session.end_seq
        elif session.end_seq is not None and last != session.end_seq:
            self._reject(badge_id, ControlError("last_seq disagrees with the final frame",
                                                reason="conflict"))
        elif last < session.highest:
            self._reject(badge_id, ControlError("last_seq is below a frame already received",
                                                reason="conflict"))
        session.end_seq = last
        session.ended_by = session.ended_by or "stop"
        session.last_activity = now
        return [self._finish(session, session.ended_by)] if session.done else []

    def expire(self, now: float) -> list[Event]:
        """Give up on stale holes and finish idle sessions; call it every second or so."""
        events: list[Event] = []
        cutoff = now - self.session_timeout_s
        for session in list(self._sessions.values()):
            before = len(session.skipped)
            if session.last_activity < cutoff:
                events.extend(session.flush())
            else:
                events.extend(session.skip_stale(cutoff))
            self._tally(session.badge_id).gaps += len(session.skipped) - before
            if session.last_activity < cutoff or session.done:
                events.append(self._finish(session, session.ended_by or "timeout"))
        return events

    def contiguous_seq(self, session_id: str, badge_id: str | None = None) -> int | None:
        """Highest seq such that frames 0..seq all arrived, for active and remembered sessions.

        Without ``badge_id`` the session is looked up by id alone, and None is returned if
        several badges used that id.
        """
        if badge_id is None:
            keys = [k for k in (*self._sessions, *self._finished) if k[1] == session_id]
            if len(keys) != 1:
                return None
            badge_id = keys[0][0]
        key = (badge_id, session_id)
        session = self._sessions.get(key)
        return session.contiguous if session is not None else self._finished.get(key)

    def settled_seq(self, badge_id: str, session_id: str) -> int | None:
        """Highest seq up to which every frame was released or given up as a gap, or None.

        This is what an ack reports: nothing at or below it will ever be taken again.
        """
        key = (badge_id, session_id)
        session = self._sessions.get(key)
        if session is not None:
            return session.next_seq - 1 if session.next_seq > 0 else None
        return self._finished.get(key)

    def state(self, badge_id: str, session_id: str) -> str | None:
        """``"receiving"``, ``"finished"`` (remembered), or None for a session never seen."""
        key = (badge_id, session_id)
        if key in self._sessions:
            return "receiving"
        return "finished" if key in self._finished else None

    def resume(self, badge_id: str, start: SessionStart, next_seq: int, now: float) -> None:
        """Take up a session a restart interrupted: frames below ``next_seq`` are stored."""
        key = (badge_id, start.session_id)
        if key in self._sessions or key in self._finished:
            raise ValueError("session is already known")
        session = self._sessions[key] = Session(badge_id, start, False, now)
        session.next_seq = next_seq
        session.highest = next_seq - 1

    def remember(self, badge_id: str, session_id: str, settled: int | None) -> None:
        """Remember a session finished before a restart, so its frames count as replays."""
        key = (badge_id, session_id)
        if key not in self._sessions:
            self._finished[key] = settled
            while len(self._finished) > self.remembered_sessions:
                self._finished.popitem(last=False)

    def stats(self) -> dict[str, BadgeStats]:
        """A snapshot of each badge's counters."""
        return {badge: BadgeStats(t.frames, t.duplicates, t.gaps, t.rejected)
                for badge, t in self._tallies.items()}

    def _implicit(self, badge_id: str, frame: AudioFrame, now: float) -> Session:
        """A session begun by a frame whose start message is missing (so far)."""
        started_at = min(max(now - frame.timestamp_ms / 1000, 0.0), MAX_STARTED_AT - 1)
        start = SessionStart(frame.session_id, "unknown", started_at, frame.codec,
                             frame.sample_rate, frame.channels)
        return Session(badge_id, start, True, now)

    def _check(self, session: Session, frame: AudioFrame, now: float) -> bool:
        """Refuse a bad frame, drop a duplicate (False), or accept it (True)."""
        badge_id, seq = session.badge_id, frame.seq
        if (frame.codec, frame.sample_rate, frame.channels) != session.format:
            self._reject(badge_id, FrameError("frame format differs from the session's",
                                              reason="format_mismatch"))
        if seq < session.next_seq and session.was_skipped(seq):
            self._reject(badge_id, FrameError("frame arrived after its gap was reported",
                                              reason="late"))
        if seq < session.next_seq or seq in session.buffer:
            session.duplicates += 1
            self._tally(badge_id).duplicates += 1
            session.last_activity = now
            return False
        if session.end_seq is not None and seq > session.end_seq:
            self._reject(badge_id, FrameError("frame after the session's last frame",
                                              reason="out_of_range"))
        if seq - session.next_seq >= self.reorder_window:
            self._reject(badge_id, FrameError("frame beyond the reorder window",
                                              reason="out_of_range"))
        end = session.end_seq
        if frame.final and (seq < session.highest if end is None else seq != end):
            self._reject(badge_id, FrameError("final frame contradicts the session's frames",
                                              reason="conflict"))
        return True

    def _finish(self, session: Session, reason: FinishReason) -> Finished:
        key = (session.badge_id, session.session_id)
        del self._sessions[key]
        self._finished[key] = session.contiguous
        while len(self._finished) > self.remembered_sessions:
            self._finished.popitem(last=False)
        return session.finished(reason)

    def _tally(self, badge_id: str) -> _Tally:
        return self._tallies.setdefault(badge_id, _Tally())

    def _reject(self, badge_id: str, error: ProtocolError) -> NoReturn:
        self._tally(badge_id).rejected += 1
        raise error
