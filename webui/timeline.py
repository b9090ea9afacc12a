"""Pictures of a conversation: tags on a timeline and who talked how much (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Colour per tag family; each passes 3:1 against white for graphics (WCAG 1.4.11).
FAMILY_COLOURS = {
    "consent": "#6d28d9", "objection": "#b42318", "competitor": "#9a3412",
    "buying_signal": "#15803d", "financing": "#0e7490", "next_step": "#1d4ed8",
    "pii": "#4b5563",
}
DEFAULT_COLOUR = "#475569"


def colour(tag: str) -> str:
    return FAMILY_COLOURS.get(tag.split(".")[0], DEFAULT_COLOUR)


@dataclass(frozen=True)
class Mark:
    """A tag placed on the timeline, in percent of the conversation's length."""

    index: int
    tag: str
    left: float
    width: float
    lane: int
    colour: str
    start: float
    end: float


def place_tags(tags: Sequence[Mapping[str, Any]], duration: float) -> list[Mark]:
    """Lay tags out left to right; overlapping ones go to the next lane."""
    total = max(duration, max((float(t["end"] or 0) for t in tags), default=0.0), 0.001)
    lanes: list[float] = []
    marks = []
    for tag in sorted(tags, key=lambda t: (float(t["start"] or 0), t["index"])):
        start, end = float(tag["start"] or 0), float(tag["end"] or 0)
        lane = next((i for i, free in enumerate(lanes) if free <= start), len(lanes))
        if lane == len(lanes):
            lanes.append(0.0)
        lanes[lane] = end + total * 0.01
        marks.append(Mark(int(tag["index"]), str(tag["tag"]), round(100 * start / total, 2),
                          round(max(100 * (end - start) / total, 0.8), 2), lane,
                          colour(str(tag["tag"])), start, end))
    return marks


def talk_shares(segments: Sequence[Mapping[str, Any]]) -> list[tuple[str, float, float]]:
    """(speaker, seconds, share) for each known speaker, when at least two spoke."""
    seconds: dict[str, float] = {}
    for seg in segments:
        speaker = str(seg.get("speaker") or "unknown")
        if speaker == "unknown":
            continue
        seconds[speaker] = seconds.get(speaker, 0.0) + max(0.0, float(seg["end"]) -
                                                           float(seg["start"]))
    total = sum(seconds.values())
    if len(seconds) < 2 or total <= 0:
        return []
    order = sorted(seconds, key=lambda s: (s != "rep", s))
    return [(s, round(seconds[s], 1), round(seconds[s] / total, 3)) for s in order]
