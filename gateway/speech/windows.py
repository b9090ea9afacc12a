"""Packing speech regions into engine windows of at most 30 s, with a map back to real time.

Whisper encodes a fixed 30 s window however little audio it holds, so packing several short
utterances into one window, and leaving long silences out, saves whole encoder passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from gateway.speech.vad import Region

GAP_S = 0.2  # silence put between regions whose real gap was left out


@dataclass(frozen=True, slots=True)
class Piece:
    """A stretch of the original recording placed at ``window_s`` inside a window."""

    start_s: float
    end_s: float
    window_s: float

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s


@dataclass(frozen=True, slots=True)
class Window:
    """Audio for one engine call: pieces of the recording, separated by short silences."""

    pieces: tuple[Piece, ...]

    @property
    def duration_s(self) -> float:
        """Length of the window's audio in seconds."""
        last = self.pieces[-1]
        return last.window_s + last.duration_s

    @property
    def start_s(self) -> float:
        """Where the window begins in the original recording."""
        return self.pieces[0].start_s

    @property
    def end_s(self) -> float:
        """Where the window ends in the original recording."""
        return self.pieces[-1].end_s

    def to_original(self, t: float, *, in_gap: Literal["next", "previous"] = "next") -> float:
        """Map a time inside the window to the original recording.

        A time in an inserted silence maps to the start of the next piece, or with
        ``in_gap="previous"`` to the end of the previous one (use that for segment ends).
        Times past the end map to the end of the last piece. The map never decreases.
        """
        previous_end = self.start_s
        for piece in self.pieces:
            if t < piece.window_s:
                return piece.start_s if in_gap == "next" else previous_end
            if t <= piece.window_s + piece.duration_s:
                return piece.start_s + (t - piece.window_s)
            previous_end = piece.end_s
        return self.end_s

    def span_to_original(
        self, start: float, end: float, snap_s: float = 0.5
    ) -> tuple[float, float]:
        """Map a segment's span to the original recording, keeping it off dropped silences.

        Engines place segment boundaries loosely, so a segment that starts within ``snap_s`` of
        a piece's end (or ends within ``snap_s`` of a piece's start) and runs on into the next
        (or back into the previous) piece is moved to begin (or finish) at that boundary.
        """
        for before, after in zip(self.pieces, self.pieces[1:], strict=False):
            boundary_end = before.window_s + before.duration_s
            if boundary_end - snap_s <= start < after.window_s and end > after.window_s + snap_s:
                start = after.window_s
            if boundary_end < end <= after.window_s + snap_s and start < boundary_end - snap_s:
                end = boundary_end
        first = self.to_original(start)
        return first, max(first, self.to_original(end, in_gap="previous"))

    def extract(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Cut this window's audio out of the whole recording's samples."""
        out = np.zeros(round(self.duration_s * sample_rate), dtype=np.float32)
        for piece in self.pieces:
            chunk = samples[round(piece.start_s * sample_rate) : round(piece.end_s * sample_rate)]
            at = round(piece.window_s * sample_rate)
            chunk = chunk[: len(out) - at]
            out[at : at + len(chunk)] = chunk
        return out


def _normalise(regions: Sequence[Region], max_s: float) -> list[Region]:
    """Sort, merge overlapping regions, and cut any longer than ``max_s`` into equal parts."""
    merged: list[Region] = []
    for region in sorted(regions, key=lambda r: r.start_s):
        if merged and region.start_s <= merged[-1].end_s:
            last = merged.pop()
            region = Region(last.start_s, max(last.end_s, region.end_s))
        merged.append(region)
    out: list[Region] = []
    for region in merged:
        parts = max(1, math.ceil(region.duration_s / max_s - 1e-9))
        step = region.duration_s / parts
        bounds = [region.start_s + i * step for i in range(parts)] + [region.end_s]
        out.extend(Region(a, b) for a, b in zip(bounds, bounds[1:], strict=False))
    return out


def pack_windows(
    regions: Sequence[Region], max_window_s: float = 30.0, max_gap_s: float = 1.0
) -> list[Window]:
    """Pack speech regions, in time order, into windows of at most ``max_window_s``.

    A pause of up to ``max_gap_s`` between regions is kept as recorded; a longer one is
    replaced by ``GAP_S`` of silence. Regions longer than a window are split.
    """
    if max_window_s <= GAP_S:
        raise ValueError(f"max_window_s must exceed {GAP_S} s")
    windows: list[Window] = []
    pieces: list[Piece] = []
    length = 0.0
    for region in _normalise(regions, max_window_s):
        if region.duration_s <= 0:
            continue
        if pieces:
            last = pieces[-1]
            gap = region.start_s - last.end_s
            if gap <= max_gap_s and length + gap + region.duration_s <= max_window_s:
                pieces[-1] = Piece(last.start_s, region.end_s, last.window_s)
                length += gap + region.duration_s
                continue
            if length + GAP_S + region.duration_s <= max_window_s:
                pieces.append(Piece(region.start_s, region.end_s, length + GAP_S))
                length += GAP_S + region.duration_s
                continue
            windows.append(Window(tuple(pieces)))
        pieces, length = [Piece(region.start_s, region.end_s, 0.0)], region.duration_s
    if pieces:
        windows.append(Window(tuple(pieces)))
    return windows
