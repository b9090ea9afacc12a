"""The session assembler: ordering, duplicates, gaps, ends, replays, and badges apart."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.assembler import (
    Assembler,
    BadgeStats,
    Chunk,
    Event,
    Finished,
    Gap,
    Started,
)
from gateway.protocol.control import SessionStart, SessionStop
from gateway.protocol.errors import ControlError, FrameError, ProtocolError
from gateway.protocol.frames import AudioFrame, Codec

SID = "9f1c2a7e4b3d4e8f9a0b1c2d3e4f5a6b"
OTHER = "0123456789abcdef0123456789abcdef"
TIMEOUT = 30.0


def frame(seq: int, *, final: bool = False, sid: str = SID, tag: int = 0,
          sample_rate: int = 16000) -> AudioFrame:
    return AudioFrame(sid, seq, seq * 20, Codec.PCM16, sample_rate, 1, final,
                      bytes([seq % 256, tag]))


def session(n: int, *, sid: str = SID, tag: int = 0) -> list[AudioFrame]:
    """Frames 0..n-1, the last one final."""
    return [frame(i, final=i == n - 1, sid=sid, tag=tag) for i in range(n)]


def seqs(events: list[Event]) -> list[int]:
    return [e.seq for e in events if isinstance(e, Chunk)]


def gaps(events: list[Event]) -> list[tuple[int, int]]:
    return [(e.first_missing, e.last_missing) for e in events if isinstance(e, Gap)]


def finished(events: list[Event]) -> list[Finished]:
    return [e for e in events if isinstance(e, Finished)]


def feed(asm: Assembler, badge: str, frames: list[AudioFrame], now: float = 0.0) -> list[Event]:
    """Add frames, expecting every refusal to be a replay after the session finished."""
    events: list[Event] = []
    for f in frames:
        try:
            events += asm.add(badge, f, now)
        except FrameError as exc:
            assert exc.reason == "replay"
            assert finished(events)
    return events


def runs(missing: set[int]) -> list[tuple[int, int]]:
    """Maximal runs of consecutive numbers."""
    out: list[tuple[int, int]] = []
    for n in sorted(missing):
        if out and out[-1][1] == n - 1:
            out[-1] = (out[-1][0], n)
        else:
            out.append((n, n))
    return out


def reason_of(call: object, *args: object) -> str:
    with pytest.raises(ProtocolError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value.reason


@st.composite
def shuffled_with_duplicates(draw: st.DrawFn, n: int) -> list[int]:
    order = list(draw(st.permutations(range(n))))
    for seq in draw(st.lists(st.integers(0, n - 1), max_size=n)):
        order.insert(draw(st.integers(0, len(order))), seq)
    return order


@given(st.integers(1, 80).flatmap(lambda n: shuffled_with_duplicates(n)))
def test_any_order_with_duplicates_releases_each_frame_once_in_order(order: list[int]) -> None:
    n = max(order) + 1
    frames = session(n)
    asm = Assembler(session_timeout_s=TIMEOUT)
    events = feed(asm, "b1", [frames[i] for i in order])
    assert seqs(events) == list(range(n))
    assert [e.payload for e in events if isinstance(e, Chunk)] == [f.payload for f in frames]
    assert isinstance(events[0], Started) and events[0].rep_id == "unknown"
    done = finished(events)
    assert len(done) == 1 and events[-1] == done[0]
    assert (done[0].reason, done[0].frames, done[0].gaps) == ("final", n, 0)
    last = max(order.index(i) for i in range(n))  # the add that completes the session
    assert done[0].duplicates == last + 1 - n
    assert asm.contiguous_seq(SID) == n - 1
    assert asm.stats()["b1"] == BadgeStats(frames=n, duplicates=done[0].duplicates, gaps=0,
                                           rejected=len(order) - last - 1)


@given(st.integers(2, 80), st.data())
def test_dropped_frames_are_reported_as_exact_gaps_on_timeout(n: int,
                                                              data: st.DataObject) -> None:
    dropped = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    received = data.draw(st.permutations([i for i in range(n) if i not in dropped]))
    frames = session(n)
    asm = Assembler(session_timeout_s=TIMEOUT)
    early = feed(asm, "b1", [frames[i] for i in received], now=0.0)
    assert not gaps(early) and not finished(early)
    assert seqs(early) == list(range(min(dropped)))
    assert asm.expire(TIMEOUT) == []
    late = asm.expire(TIMEOUT + 0.5)
    events = early + late
    assert seqs(events) == sorted(received)
    top = max(received)
    expected = runs({i for i in dropped if i < top})
    assert gaps(events) == expected
    done = finished(events)
    assert len(done) == 1 and events[-1] == done[0]
    assert done[0].reason == ("final" if n - 1 in received else "timeout")
    assert (done[0].frames, done[0].gaps) == (len(received), len(expected))
    assert asm.contiguous_seq(SID, "b1") == (min(dropped) - 1 if min(dropped) else None)
    with pytest.raises(FrameError) as caught:
        asm.add("b1", frames[min(dropped)], TIMEOUT + 1)
    assert caught.value.reason == "replay"


@given(st.integers(1, 40), st.integers(1, 40), st.data())
def test_two_badges_interleaved_do_not_interfere(n: int, m: int, data: st.DataObject) -> None:
    a = [("a", f) for f in session(n, tag=1)]
    b = [("b", f) for f in session(m, tag=2)]  # the same session id on another badge
    a = [a[i] for i in data.draw(st.permutations(range(n)))]
    b = [b[i] for i in data.draw(st.permutations(range(m)))]
    picks = data.draw(st.permutations([0] * n + [1] * m))
    asm = Assembler()
    events: list[Event] = []
    for pick in picks:
        badge, f = (a if pick == 0 else b).pop(0)
        events += asm.add(badge, f, 0.0)
    for badge, count, tag in (("a", n, 1), ("b", m, 2)):
        mine = [e for e in events if e.badge_id == badge]
        assert seqs(mine) == list(range(count))
        assert all(e.payload[1] == tag for e in mine if isinstance(e, Chunk))
        assert [e.reason for e in finished(mine)] == ["final"]
        assert asm.stats()[badge] == BadgeStats(frames=count)
    assert asm.contiguous_seq(SID, "a") == n - 1
    assert asm.contiguous_seq(SID) is None  # ambiguous without the badge


def test_start_then_frames_then_final() -> None:
    asm = Assembler()
    start = SessionStart(SID, "rep-7", 1767225600.0, customer_ref="ACME-1",
                         consent_declared=True)
    assert asm.start("b1", start, 0.0) == [Started("b1", SID, "rep-7", 1767225600.0,
                                                   Codec.PCM16, 16000, 1, "ACME-1", True)]
    assert asm.start("b1", start, 0.5) == []  # a redelivered start
    events = feed(asm, "b1", session(3), now=1.0)
    assert seqs(events) == [0, 1, 2]
    assert finished(events) == [Finished("b1", SID, "final", 3, 0, 0)]
    assert reason_of(asm.start, "b1", start, 2.0) == "replay"
    assert asm.stop("b1", SessionStop(SID, 2), 2.0) == []


def test_late_start_completes_an_implicit_session() -> None:
    asm = Assembler()
    first = asm.add("b1", frame(5), 1000.0)
    assert first == [Started("b1", SID, "unknown", 1000.0 - 0.1, Codec.PCM16, 16000, 1,
                             None, False)]
    start = SessionStart(SID, "rep-7", 999.0, consent_declared=True)
    assert asm.start("b1", start, 1000.5) == [Started("b1", SID, "rep-7", 999.0, Codec.PCM16,
                                                      16000, 1, None, True)]
    assert asm.start("b1", start, 1000.6) == []
    assert reason_of(asm.start, "b1", SessionStart(SID, "rep-8", 999.0), 1001.0) == "conflict"


def test_late_start_with_another_format_is_refused() -> None:
    asm = Assembler()
    asm.add("b1", frame(0), 0.0)
    assert reason_of(asm.start, "b1", SessionStart(SID, "r", 0.0, channels=2), 0.0) \
        == "format_mismatch"
    assert asm.stats()["b1"].rejected == 1


def test_frame_of_another_format_is_refused_and_the_session_carries_on() -> None:
    asm = Assembler()
    asm.start("b1", SessionStart(SID, "rep-7", 0.0), 0.0)
    assert reason_of(asm.add, "b1", frame(0, sample_rate=8000), 0.0) == "format_mismatch"
    assert seqs(feed(asm, "b1", session(2))) == [0, 1]


def test_frames_beyond_the_reorder_window_are_refused() -> None:
    asm = Assembler(reorder_window=8)
    asm.add("b1", frame(0), 0.0)
    assert reason_of(asm.add, "b1", frame(9), 0.0) == "out_of_range"
    assert asm.add("b1", frame(8), 0.0) == []  # 7 frames ahead of seq 1
    assert asm.stats()["b1"] == BadgeStats(frames=2, rejected=1)


def test_first_frame_far_into_a_session_starts_after_a_gap() -> None:
    asm = Assembler(reorder_window=8)
    events = asm.add("b1", frame(100), 0.0)
    assert gaps(events) == [(0, 99)] and seqs(events) == [100]
    assert asm.contiguous_seq(SID) is None
    assert reason_of(asm.add, "b1", frame(50), 0.0) == "late"


def test_frames_after_the_final_one_are_refused() -> None:
    asm = Assembler()
    asm.add("b1", frame(1), 0.0)
    asm.add("b1", frame(3, final=True), 0.0)
    assert reason_of(asm.add, "b1", frame(4), 0.0) == "out_of_range"
    assert reason_of(asm.add, "b1", frame(2, final=True), 0.0) == "conflict"
    events = asm.add("b1", frame(0), 0.0) + asm.add("b1", frame(2), 0.0)
    assert seqs(events) == [0, 1, 2, 3] and finished(events)[0].reason == "final"


def test_final_frame_below_a_received_frame_is_refused() -> None:
    asm = Assembler()
    asm.add("b1", frame(5), 0.0)
    assert reason_of(asm.add, "b1", frame(3, final=True), 0.0) == "conflict"


def test_stop_with_everything_received_finishes_at_once() -> None:
    asm = Assembler()
    asm.add("b1", frame(0), 0.0)
    asm.add("b1", frame(1), 0.0)
    assert asm.stop("b1", SessionStop(SID, 1), 1.0) == [Finished("b1", SID, "stop", 2, 0, 0)]


def test_stop_before_the_last_frames_waits_for_them() -> None:
    asm = Assembler()
    asm.start("b1", SessionStart(SID, "r", 0.0), 0.0)
    assert asm.stop("b1", SessionStop(SID, 2), 0.0) == []
    assert reason_of(asm.add, "b1", frame(3), 0.0) == "out_of_range"
    events = feed(asm, "b1", [frame(2), frame(0), frame(1)])
    assert seqs(events) == [0, 1, 2] and finished(events)[0].reason == "stop"


def test_stop_with_frames_missing_reports_them_on_timeout() -> None:
    asm = Assembler()
    feed(asm, "b1", [frame(0), frame(2)])
    assert asm.stop("b1", SessionStop(SID, 5), 1.0) == []
    events = asm.expire(1.0 + TIMEOUT + 1)
    assert seqs(events) == [2]
    assert gaps(events) == [(1, 1), (3, 5)]
    assert finished(events) == [Finished("b1", SID, "stop", 2, 0, 2)]


def test_stop_without_last_seq_ends_at_the_highest_frame() -> None:
    asm = Assembler()
    feed(asm, "b1", [frame(0), frame(1)])
    assert finished(asm.stop("b1", SessionStop(SID), 0.0))[0].frames == 2
    asm2 = Assembler()
    asm2.start("b1", SessionStart(SID, "r", 0.0), 0.0)
    assert finished(asm2.stop("b1", SessionStop(SID), 0.0))[0].frames == 0


def test_stop_that_contradicts_the_session_is_refused() -> None:
    asm = Assembler()
    assert reason_of(asm.stop, "b1", SessionStop(SID, 3), 0.0) == "unknown_session"
    asm.add("b1", frame(4), 0.0)
    assert reason_of(asm.stop, "b1", SessionStop(SID, 3), 0.0) == "conflict"
    asm.add("b1", frame(6, final=True), 0.0)
    assert reason_of(asm.stop, "b1", SessionStop(SID, 7), 0.0) == "conflict"
    assert asm.stop("b1", SessionStop(SID, 6), 0.0) == []
    assert asm.stats()["b1"].rejected == 3


def test_a_stale_hole_is_given_up_while_the_session_goes_on() -> None:
    asm = Assembler(session_timeout_s=TIMEOUT)
    feed(asm, "b1", [frame(0), frame(2), frame(3)], now=0.0)
    asm.add("b1", frame(4), 20.0)
    assert asm.expire(29.0) == []
    events = asm.expire(31.0)
    assert gaps(events) == [(1, 1)] and seqs(events) == [2, 3, 4] and not finished(events)
    assert reason_of(asm.add, "b1", frame(1), 32.0) == "late"
    events = asm.add("b1", frame(5, final=True), 33.0)
    assert finished(events) == [Finished("b1", SID, "final", 5, 0, 1)]
    assert asm.contiguous_seq(SID) == 0


def test_idle_session_times_out_and_duplicates_keep_it_alive() -> None:
    asm = Assembler(session_timeout_s=TIMEOUT)
    asm.add("b1", frame(0), 0.0)
    asm.add("b1", frame(0), 25.0)
    assert asm.expire(40.0) == []
    assert asm.expire(55.5) == [Finished("b1", SID, "timeout", 1, 1, 0)]


def test_contiguous_seq_tracks_the_unbroken_prefix() -> None:
    asm = Assembler()
    assert asm.contiguous_seq(SID) is None
    asm.add("b1", frame(1), 0.0)
    assert asm.contiguous_seq(SID) is None
    asm.add("b1", frame(0), 0.0)
    asm.add("b1", frame(3), 0.0)
    assert asm.contiguous_seq(SID) == 1
    assert asm.contiguous_seq(SID, "b2") is None


def test_finished_sessions_are_remembered_up_to_the_bound() -> None:
    asm = Assembler(remembered_sessions=2)
    ids = [f"{i:032x}" for i in range(3)]
    for sid in ids:
        feed(asm, "b1", session(1, sid=sid))
    assert reason_of(asm.add, "b1", frame(0, final=True, sid=ids[2]), 0.0) == "replay"
    assert reason_of(asm.add, "b1", frame(0, final=True, sid=ids[1]), 0.0) == "replay"
    assert asm.contiguous_seq(ids[2]) == 0
    assert asm.contiguous_seq(ids[0]) is None  # forgotten, so a replay would be taken anew


def test_badges_keep_separate_sessions_with_the_same_id() -> None:
    asm = Assembler()
    feed(asm, "a", session(2))
    assert seqs(asm.add("b", frame(0), 0.0)) == [0]
    assert reason_of(asm.add, "a", frame(0), 0.0) == "replay"
    assert asm.stats() == {"a": BadgeStats(frames=2, rejected=1), "b": BadgeStats(frames=1)}


def test_one_badge_may_run_sessions_one_after_another() -> None:
    asm = Assembler()
    first = feed(asm, "b1", session(2))
    second = feed(asm, "b1", session(3, sid=OTHER))
    assert [e.session_id for e in finished(first + second)] == [SID, OTHER]


@pytest.mark.parametrize("kwargs", [
    {"session_timeout_s": 0},
    {"reorder_window": 0},
    {"remembered_sessions": 0},
])
def test_settings_must_be_positive(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Assembler(**kwargs)  # type: ignore[arg-type]


def test_refusals_are_control_or_frame_errors() -> None:
    asm = Assembler()
    with pytest.raises(ControlError):
        asm.stop("b1", SessionStop(SID), 0.0)
    feed(asm, "b1", session(1))
    with pytest.raises(FrameError):
        asm.add("b1", frame(0), 0.0)
