"""Transcript intelligence: redaction of phone numbers and e-mail addresses, and tagging."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.intel.lexicon import DEFAULT_COMPETITORS
from gateway.intel.redactor import Finding, Redaction, redact
from gateway.intel.tagger import classify
from gateway.intel.types import Segment, Tag

__all__ = [
    "DEFAULT_COMPETITORS",
    "Annotation",
    "Finding",
    "Redaction",
    "Segment",
    "Tag",
    "annotate",
    "classify",
    "redact",
]

# A segment that does not end a sentence is also read together with the next one when that
# follows within this many seconds (an ASR window boundary can split a sentence).
JOIN_GAP_S = 1.5
_SENTENCE_END = (".", "?", "!")


@dataclass(frozen=True, slots=True)
class Annotation:
    """Redacted segments, the tags they earned, and every identifier found in them."""

    segments: tuple[Segment, ...]
    tags: tuple[Tag, ...]
    identifiers: tuple[Finding, ...]


def annotate(
    segments: Sequence[Segment], *, competitors: Sequence[str] = DEFAULT_COMPETITORS
) -> Annotation:
    """Redact each segment, then tag the redacted text; no tag ever carries clear PII."""
    redactions = [redact(segment.text) for segment in segments]
    clean = tuple(
        Segment(s.start, s.end, r.text, s.speaker)
        for s, r in zip(segments, redactions, strict=True)
    )
    names = tuple(competitors)
    tags: list[Tag] = []
    alone = [classify(segment.text, names) for segment in clean]
    for index, (segment, redaction, found) in enumerate(
        zip(clean, redactions, alone, strict=True)
    ):
        for kind in sorted({f.kind for f in redaction.findings}):
            tags.append(Tag(f"pii.{kind}", segment.start, segment.end, segment.text))
        for tag, confidence in found.items():
            tags.append(Tag(tag, segment.start, segment.end, segment.text, confidence))
        if index + 1 < len(clean) and _continues(segment, clean[index + 1]):
            tags.extend(_joined_tags(segment, clean[index + 1], found, alone[index + 1], names))
    identifiers = tuple(f for r in redactions for f in r.findings)
    return Annotation(clean, tuple(tags), identifiers)


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
        for tag, confidence in classify(text, competitors).items()
        if tag not in first_tags and tag not in second_tags
    ]
