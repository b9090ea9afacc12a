"""Voice activity detection: where in a recording someone is speaking.

The frame classifier (webrtcvad, imported only when used) is kept apart from the smoothing,
which is a pure function of per-frame decisions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from gateway.speech.audio import Audio

_FRAME_MS = (10, 20, 30)
_VAD_RATES = (8_000, 16_000, 32_000, 48_000)


@dataclass(frozen=True, slots=True)
class Region:
    """A stretch of speech, in seconds from the start of the recording."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s


def smooth(
    voiced: Sequence[bool], *, frame_s: float, padding_s: float, min_speech_s: float
) -> list[Region]:
    """Turn per-frame speech decisions into padded, merged speech regions.

    Each run of voiced frames is widened by ``padding_s`` on both sides (within the recording);
    runs whose padding overlaps merge, so pauses shorter than ``2 * padding_s`` stay inside one
    region. A region with less than ``min_speech_s`` of voiced frames is dropped as a blip.
    """
    total = len(voiced) * frame_s
    pad = round(padding_s / frame_s)
    regions: list[tuple[int, int, int]] = []  # first frame, end frame (exclusive), voiced count
    i = 0
    while i < len(voiced):
        if not voiced[i]:
            i += 1
            continue
        j = i
        while j < len(voiced) and voiced[j]:
            j += 1
        first, end = max(0, i - pad), min(len(voiced), j + pad)
        if regions and first <= regions[-1][1]:
            prev = regions.pop()
            regions.append((prev[0], end, prev[2] + j - i))
        else:
            regions.append((first, end, j - i))
        i = j
    return [
        Region(round(first * frame_s, 3), round(min(end * frame_s, total), 3))
        for first, end, count in regions
        if count * frame_s >= min_speech_s
    ]


def frame_decisions(
    samples: np.ndarray, sample_rate: int, *, aggressiveness: int, frame_ms: int
) -> list[bool]:
    """Classify each whole frame of float32 mono samples as speech or not with webrtcvad."""
    if frame_ms not in _FRAME_MS:
        raise ValueError(f"frame_ms must be one of {_FRAME_MS}, not {frame_ms}")
    if not 0 <= aggressiveness <= 3:
        raise ValueError(f"aggressiveness must be 0..3, not {aggressiveness}")
    if sample_rate not in _VAD_RATES:
        raise ValueError(f"webrtcvad cannot classify audio at {sample_rate} Hz")
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    n = sample_rate * frame_ms // 1000
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    width = 2 * n
    return [
        bool(vad.is_speech(pcm[start : start + width], sample_rate))
        for start in range(0, len(pcm) - width + 1, width)
    ]


def speech_regions(
    audio: Audio,
    *,
    aggressiveness: int = 2,
    frame_ms: int = 30,
    padding_ms: int = 300,
    min_speech_ms: int = 250,
) -> list[Region]:
    """Find the regions of ``audio`` that contain speech."""
    voiced = frame_decisions(
        audio.samples, audio.sample_rate, aggressiveness=aggressiveness, frame_ms=frame_ms
    )
    regions = smooth(
        voiced,
        frame_s=frame_ms / 1000,
        padding_s=padding_ms / 1000,
        min_speech_s=min_speech_ms / 1000,
    )
    # the last partial frame is unclassified; let a region that reaches it run to the end
    if regions and regions[-1].end_s >= len(voiced) * frame_ms / 1000:
        regions[-1] = Region(regions[-1].start_s, round(audio.duration_s, 3))
    return regions
