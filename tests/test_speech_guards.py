"""Hallucination guards and the engine knobs that are pure functions."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.intel.types import Segment
from gateway.speech.engine import Heard
from gateway.speech.guards import (
    compression_ratio,
    keep,
    longest_repeat,
    rejection,
    voiced_fraction,
)
from gateway.speech.whispercpp import FULL_AUDIO_CTX, audio_ctx_for


def test_repeat_loops_are_dropped() -> None:
    loop = "the price, the price, the price, the price, the price"
    assert longest_repeat(loop) == 5
    assert rejection(Segment(0, 1, loop)) in {"compression", "repetition"}
    short_loop = "yes yes yes yes"  # too short to compress well, still a loop
    assert compression_ratio(short_loop) <= 2.4
    assert rejection(Segment(0, 1, short_loop)) == "repetition"
    long_loop = "Thank you for watching. " * 12
    assert compression_ratio(long_loop) > 2.4
    assert rejection(Segment(0, 1, long_loop)) in {"compression", "repetition"}


def test_ordinary_sentences_pass() -> None:
    for text in ("We already got a proposal from Tesla for the panels.",
                 "No, no, I said Tuesday.", "Five five five, two one two, four three six eight."):
        assert rejection(Segment(0, 1, text)) is None, text


def test_engine_evidence_is_used_when_present() -> None:
    doubtful = Heard(0, 1, "Thank you.", no_speech_prob=0.9, avg_logprob=-1.4)
    assert rejection(doubtful) == "no-speech"
    sure_enough = Heard(0, 1, "Thank you.", no_speech_prob=0.9, avg_logprob=-0.2)
    assert rejection(sure_enough) is None  # Whisper's rule needs both
    assert rejection(Heard(0, 1, "Thanks for watching!", probability=0.1)) == "low-confidence"
    assert rejection(Heard(0, 1, "Hello there.", probability=math.nan)) is None


def test_segments_over_silence_are_dropped() -> None:
    voiced = [False] * 100 + [True] * 100  # 30 ms frames: speech from 3.0 s to 6.0 s
    kept, dropped = keep([Segment(0.2, 2.5, "Thank you."), Segment(3.1, 5.5, "Real words.")],
                         voiced, 0.03)
    assert [s.text for s in kept] == ["Real words."] and dropped == {"silence": 1}
    assert voiced_fraction(voiced, 0.03, 2.7, 3.3) == pytest.approx(0.5)


@given(st.lists(st.booleans(), max_size=200), st.floats(0, 10), st.floats(0, 10))
def test_voiced_fraction_is_a_fraction(voiced: list[bool], a: float, b: float) -> None:
    assert 0.0 <= voiced_fraction(voiced, 0.03, min(a, b), max(a, b)) <= 1.0


def test_audio_context_shrinks_only_for_short_windows() -> None:
    assert audio_ctx_for(25.0, 20.0) == 0
    assert audio_ctx_for(3.0, 0.0) == 0
    ctx = audio_ctx_for(3.0, 20.0)
    assert ctx % 64 == 0 and 150 + 64 <= ctx < 150 + 128
    assert audio_ctx_for(19.99, 20.0) <= FULL_AUDIO_CTX
