"""Speech regions from the VAD, and packing them into engine windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import sox_noise, synthesize
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio
from gateway.speech.vad import Region, smooth, speech_regions
from gateway.speech.windows import GAP_S, Window, pack_windows

UTTERANCES = [
    "Good morning, thanks for having me over today.",
    "The price is just too high for us.",
    "We need some time to think about it.",
]


def flags(pattern: str) -> list[bool]:
    return [ch == "#" for ch in pattern]


# --- smoothing (pure) ----------------------------------------------------------------------------


def test_smoothing_pads_merges_and_drops_blips() -> None:
    voiced = flags("....######...##......#..........#####.")
    regions = smooth(voiced, frame_s=0.1, padding_s=0.2, min_speech_s=0.3)
    # a 3-frame pause is shorter than twice the padding, so the first two runs merge;
    # the lone frame is a blip; the last region is padded up to the end of the recording
    assert regions == [Region(0.2, 1.7), Region(3.0, 3.8)]


def test_smoothing_of_nothing_voiced_is_empty() -> None:
    assert smooth(flags("." * 50), frame_s=0.03, padding_s=0.3, min_speech_s=0.25) == []
    assert smooth([], frame_s=0.03, padding_s=0.3, min_speech_s=0.25) == []


@settings(max_examples=200)
@given(st.lists(st.booleans(), max_size=300), st.integers(0, 10), st.integers(1, 10))
def test_smoothed_regions_are_ordered_disjoint_and_cover_long_runs(
    voiced: list[bool], pad: int, min_frames: int
) -> None:
    frame = 0.03
    regions = smooth(voiced, frame_s=frame, padding_s=pad * frame, min_speech_s=min_frames * frame)
    total = len(voiced) * frame
    for region in regions:
        assert 0 <= region.start_s < region.end_s <= total + 1e-9
    for a, b in zip(regions, regions[1:], strict=False):
        assert a.end_s < b.start_s
    run = 0
    for i, v in enumerate([*voiced, False]):
        if v:
            run += 1
            continue
        if run >= min_frames:
            start, end = (i - run) * frame, i * frame
            assert any(r.start_s <= start + 1e-9 and end <= r.end_s + 1e-9 for r in regions)
        run = 0


# --- windows (pure) ------------------------------------------------------------------------------

regions_strategy = st.lists(
    st.tuples(st.floats(0.0, 20.0), st.floats(0.01, 45.0)), max_size=12
).map(lambda pairs: _layout(pairs))


def _layout(pairs: list[tuple[float, float]]) -> list[Region]:
    """Lay (gap, length) pairs end to end into ordered, disjoint regions."""
    out, t = [], 0.0
    for gap, length in pairs:
        start = t + gap + 0.01
        out.append(Region(start, start + length))
        t = start + length
    return out


def test_short_pauses_are_kept_and_long_silences_dropped() -> None:
    regions = [Region(1.0, 3.0), Region(3.5, 5.0), Region(20.0, 22.0)]
    [window] = pack_windows(regions, max_window_s=30.0, max_gap_s=1.0)
    assert [(p.start_s, p.end_s, p.window_s) for p in window.pieces] == [
        (1.0, 5.0, 0.0),
        (20.0, 22.0, 4.0 + GAP_S),
    ]
    assert window.duration_s == pytest.approx(6.0 + GAP_S)
    assert window.to_original(2.5) == pytest.approx(3.5)
    assert window.to_original(4.1) == pytest.approx(20.0)
    assert window.to_original(4.1, in_gap="previous") == pytest.approx(5.0)
    assert window.to_original(5.2) == pytest.approx(21.0)
    assert window.to_original(99.0) == pytest.approx(22.0)


def test_segment_spans_are_kept_off_dropped_silences() -> None:
    [window] = pack_windows([Region(1.0, 5.0), Region(20.0, 22.0)], max_gap_s=1.0)
    # starts in the last 0.5 s of the first piece but is mostly in the second
    assert window.span_to_original(3.7, 6.0) == pytest.approx((20.0, 21.8))
    # ends just into the second piece but is mostly in the first
    assert window.span_to_original(1.0, 4.5) == pytest.approx((2.0, 5.0))
    # a segment really spanning both pieces keeps both ends
    assert window.span_to_original(2.0, 5.5) == pytest.approx((3.0, 21.3))
    assert window.span_to_original(4.3, 5.0) == pytest.approx((20.1, 20.8))


def test_a_long_region_is_split_and_windows_fill_in_order() -> None:
    windows = pack_windows([Region(0.0, 70.0), Region(75.0, 80.0)], max_window_s=30.0)
    assert [(w.start_s, w.end_s) for w in windows] == [
        pytest.approx((0.0, 70 / 3)),
        pytest.approx((70 / 3, 140 / 3)),
        pytest.approx((140 / 3, 80.0)),
    ]


@settings(max_examples=200)
@given(regions_strategy, st.floats(5.0, 30.0), st.floats(0.0, 3.0))
def test_windows_cover_every_region_within_the_limit(
    regions: list[Region], max_window_s: float, max_gap_s: float
) -> None:
    windows = pack_windows(regions, max_window_s=max_window_s, max_gap_s=max_gap_s)
    pieces = [p for w in windows for p in w.pieces]
    for window in windows:
        assert window.duration_s <= max_window_s + 1e-6
    for a, b in zip(pieces, pieces[1:], strict=False):
        assert a.end_s <= b.start_s + 1e-9
    for region in regions:
        covered = sum(
            max(0.0, min(p.end_s, region.end_s) - max(p.start_s, region.start_s)) for p in pieces
        )
        assert covered == pytest.approx(region.duration_s, abs=1e-6)


@settings(max_examples=200)
@given(regions_strategy.filter(bool), st.lists(st.floats(0.0, 40.0), min_size=2, max_size=20))
def test_time_map_is_exact_inside_pieces_and_never_decreases(
    regions: list[Region], times: list[float]
) -> None:
    for window in pack_windows(regions):
        for piece in window.pieces:
            mid = piece.window_s + piece.duration_s / 2
            assert window.to_original(mid) == pytest.approx(piece.start_s + piece.duration_s / 2)
        for side in ("next", "previous"):
            mapped = [window.to_original(t, in_gap=side) for t in sorted(times)]
            assert mapped == sorted(mapped)
            assert all(window.start_s <= m <= window.end_s for m in mapped)
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False):
            first, last = window.span_to_original(a, b)
            assert window.start_s <= first <= last <= window.end_s


def test_extract_concatenates_pieces_with_silence_between() -> None:
    samples = np.arange(100 * SAMPLE_RATE, dtype=np.float32)
    [window] = pack_windows([Region(1.0, 2.0), Region(10.0, 10.5)], max_gap_s=1.0)
    out = window.extract(samples, SAMPLE_RATE)
    gap = round(GAP_S * SAMPLE_RATE)
    assert len(out) == round(1.7 * SAMPLE_RATE)
    np.testing.assert_array_equal(out[:SAMPLE_RATE], samples[SAMPLE_RATE : 2 * SAMPLE_RATE])
    assert not out[SAMPLE_RATE : SAMPLE_RATE + gap].any()
    np.testing.assert_array_equal(out[SAMPLE_RATE + gap :], samples[160_000:168_000])


def test_no_regions_no_windows() -> None:
    assert pack_windows([]) == []
    assert isinstance(pack_windows([Region(0.0, 1.0)])[0], Window)


# --- VAD on real audio ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Audio, list[Region]]:
    """Three utterances separated by 2 s silences, with their true spans."""
    directory = tmp_path_factory.mktemp("vad")
    parts, spans, t = [np.zeros(SAMPLE_RATE, dtype=np.float32)], [], 1.0
    for i, text in enumerate(UTTERANCES):
        speech = load_audio(synthesize(text, directory / f"u{i}.wav")).samples
        parts += [speech, np.zeros(2 * SAMPLE_RATE, dtype=np.float32)]
        spans.append(Region(t, t + len(speech) / SAMPLE_RATE))
        t += len(speech) / SAMPLE_RATE + 2.0
    return Audio(np.concatenate(parts)), spans


def test_vad_finds_each_utterance(conversation: tuple[Audio, list[Region]]) -> None:
    audio, spans = conversation
    regions = speech_regions(audio)
    assert len(regions) == len(spans)
    for region, span in zip(regions, spans, strict=True):
        assert region.start_s <= span.start_s + 0.3
        assert region.end_s >= span.end_s - 0.3
        assert region.duration_s < span.duration_s + 1.0


def test_vad_hears_nothing_in_silence_or_white_noise(tmp_path: Path) -> None:
    assert speech_regions(Audio(np.zeros(3 * SAMPLE_RATE, dtype=np.float32))) == []
    noise = sox_noise("whitenoise", 3, 0.05, tmp_path / "noise.wav")
    assert speech_regions(load_audio(noise)) == []


def test_vad_rejects_bad_settings(conversation: tuple[Audio, list[Region]]) -> None:
    with pytest.raises(ValueError, match="frame_ms"):
        speech_regions(conversation[0], frame_ms=25)
    with pytest.raises(ValueError, match="aggressiveness"):
        speech_regions(conversation[0], aggressiveness=4)
