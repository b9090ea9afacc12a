"""Value types shared by the speech pipeline, the tagger and the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of transcript with its time span in seconds from the start of the conversation."""

    start: float
    end: float
    text: str
    speaker: str = "unknown"


@dataclass(frozen=True, slots=True)
class Tag:
    """A tag from the taxonomy, with the time span and the (redacted) text that earned it."""

    tag: str
    start: float
    end: float
    text: str
    confidence: float = 1.0
