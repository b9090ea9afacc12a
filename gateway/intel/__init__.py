"""Transcript intelligence: redaction of identifiers, tagging, trackers, sentiment, talk metrics.

:func:`annotate` redacts every segment first (nothing downstream sees clear PII), then tags the
redacted text, keeps only tags the segment's speaker can earn (see :mod:`gateway.intel.scope`),
adds the site's trackers, and scores each segment's sentiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.intel import sentiment
from gateway.intel.lexicon import DEFAULT_COMPETITORS
from gateway.intel.redactor import Finding, Redaction, redact
from gateway.intel.scope import allowed
from gateway.intel.tagger import classify
from gateway.intel.trackers import Tracker, TrackerError, matches, parse_tracker, parse_trackers
from gateway.intel.types import Segment, Tag

__all__ = [
    "DEFAULT_COMPETITORS",
    "Annotation",
    "Finding",
    "Redaction",
    "Segment",
    "Tag",
    "Tracker",
    "TrackerError",
    "annotate",
    "classify",
    "parse_tracker",
    "redact",
]

# A segment that does not end a sentence is also read together with the next one when that
# follows within this many seconds (an ASR window boundary can split a sentence).
JOIN_GAP_S = 1.5
_SENTENCE_END = (".", "?", "!")


@dataclass(frozen=True, slots=True)
class Annotation:
    """Redacted segments, the tags they earned, every identifier found in them, and each
    segment's sentiment score in [-1, 1] (see :mod:`gateway.intel.sentiment`)."""

    segments: tuple[Segment, ...]
    tags: tuple[Tag, ...]
    identifiers: tuple[Finding, ...]
    sentiments: tuple[float, ...] = ()


def annotate(
    segments: Sequence[Segment],
    *,
    competitors: Sequence[str] | None = DEFAULT_COMPETITORS,
    trackers: Sequence[str | Tracker] = (),
) -> Annotation:
    """Redact each segment, then tag the redacted text; no tag ever carries clear PII.

    ``competitors`` are the brand names that earn ``competitor.mention`` (None: the built-in
    list); ``trackers`` are tracker definitions (strings, see :mod:`gateway.intel.trackers`).
    """
    redactions = [redact(segment.text) for segment in segments]
    clean = tuple(
        Segment(s.start, s.end, r.text, s.speaker)
        for s, r in zip(segments, redactions, strict=True)
    )
    names = tuple(DEFAULT_COMPETITORS if competitors is None else competitors)
    site_trackers = _trackers(trackers)
    tags: list[Tag] = []
    alone = [_scoped(classify(segment.text, names), segment.speaker) for segment in clean]
    for index, (segment, redaction, found) in enumerate(
        zip(clean, redactions, alone, strict=True)
    ):
        for kind in sorted({f.kind for f in redaction.findings}):
            tags.append(Tag(f"pii.{kind}", segment.start, segment.end, segment.text))
        for tag, confidence in found.items():
            tags.append(Tag(tag, segment.start, segment.end, segment.text, confidence))
        if index + 1 < len(clean) and _continues(segment, clean[index + 1]):
            tags.extend(_joined_tags(segment, clean[index + 1], found, alone[index + 1], names))
        for tag in matches(segment.text, segment.speaker, site_trackers):
            tags.append(Tag(tag, segment.start, segment.end, segment.text, 0.9))
    identifiers = tuple(f for r in redactions for f in r.findings)
    scores = tuple(sentiment.score(segment.text) for segment in clean)
    return Annotation(clean, tuple(tags), identifiers, scores)


def _trackers(trackers: Sequence[str | Tracker]) -> tuple[Tracker, ...]:
    specs = tuple(t for t in trackers if isinstance(t, str))
    parsed = parse_trackers(specs) if specs else ()
    return parsed + tuple(t for t in trackers if isinstance(t, Tracker))


def _scoped(found: dict[str, float], speaker: str) -> dict[str, float]:
    return {tag: c for tag, c in found.items() if allowed(tag, speaker)}


def _continues(segment: Segment, following: Segment) -> bool:
    """Does ``following`` plausibly finish the sentence ``segment`` started?"""
    return (
        not segment.text.rstrip().endswith(_SENTENCE_END)
        and segment.speaker == following.speaker
        and 0 <= following.start - segment.end <= JOIN_GAP_S
    )


def _joined_tags(
    first: Segment,
    second: Segment,
    first_tags: dict[str, float],
    second_tags: dict[str, float],
    competitors: tuple[str, ...],
) -> list[Tag]:
    """Tags that only the two segments read together earn, spanning both."""
    text = f"{first.text.rstrip()} {second.text.lstrip()}"
    return [
        Tag(tag, first.start, second.end, text, confidence)
        for tag, confidence in _scoped(classify(text, competitors), first.speaker).items()
        if tag not in first_tags and tag not in second_tags
    ]
