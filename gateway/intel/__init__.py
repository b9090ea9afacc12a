"""Transcript intelligence: redaction of identifiers, tagging, trackers, sentiment, talk metrics.

:func:`annotate` redacts every segment first (nothing downstream sees clear PII), then tags the
redacted text (with the semantic tagger when one is given, see :mod:`gateway.intel.semantic`,
else with the keyword rules alone), keeps only tags the segment's speaker can earn (see
:mod:`gateway.intel.scope`), adds the site's trackers, and scores each segment's sentiment.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.intel import sentiment
from gateway.intel.lexicon import DEFAULT_COMPETITORS
from gateway.intel.redactor import Finding, Redaction, redact, redact_segments
from gateway.intel.scope import allowed
from gateway.intel.tagger import classify
from gateway.intel.trackers import (
    CONFIDENCE,
    Tracker,
    TrackerError,
    matches,
    parse_tracker,
    parse_trackers,
    smart_matches,
)
from gateway.intel.types import Segment, Tag

if TYPE_CHECKING:
    from gateway.intel.semantic import Encoded, SemanticTagger

__all__ = [
    "DEFAULT_COMPETITORS",
    "Annotation",
    "Finding",
    "Redaction",
    "Segment",
    "SemanticTagger",
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
# A tag of such a segment read alone counts only when the two read together have it too,
# or when it is this sure (chosen on the tuning half cut in two, and checked on the
# validation set cut in two: bench/tags_cv.py's "cut", "p-cut" and "v-cut").
FRAGMENT_SURE = 0.9


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
    tagger: SemanticTagger | None = None,
) -> Annotation:
    """Redact each segment, then tag the redacted text; no tag ever carries clear PII.

    ``competitors`` are the brand names that earn ``competitor.mention`` (None: the built-in
    list); ``trackers`` are tracker definitions (strings, see :mod:`gateway.intel.trackers`);
    ``tagger`` is the semantic tagger (None: the keyword rules alone, and no smart trackers).
    """
    redactions = redact_segments(
        [segment.text for segment in segments],
        [index > 0 and _follows(segments[index - 1], segment)
         for index, segment in enumerate(segments)],
    )
    clean = tuple(
        Segment(s.start, s.end, r.text, s.speaker)
        for s, r in zip(segments, redactions, strict=True)
    )
    names = tuple(DEFAULT_COMPETITORS if competitors is None else competitors)
    site_trackers = _trackers(trackers)
    texts = [segment.text for segment in clean]
    pairs = [i for i in range(len(clean) - 1) if _continues(clean[i], clean[i + 1])]
    joined = [f"{clean[i].text.rstrip()} {clean[i + 1].text.lstrip()}" for i in pairs]
    encoded = tagger.encode(texts) if tagger is not None and texts else None
    found_all = _classify(texts + joined, names, tagger, encoded)
    together = dict(zip(pairs, found_all[len(texts):], strict=True))
    alone = [_scoped(_confirmed(found_all[i], i, together), segment.speaker)
             for i, segment in enumerate(clean)]
    tags: list[Tag] = []
    for index, (segment, redaction, found) in enumerate(
        zip(clean, redactions, alone, strict=True)
    ):
        for kind in sorted({f.kind for f in redaction.findings}):
            tags.append(Tag(f"pii.{kind}", segment.start, segment.end, segment.text))
        for tag, confidence in found.items():
            tags.append(Tag(tag, segment.start, segment.end, segment.text, confidence))
        if index in together:
            following = clean[index + 1]
            tags.extend(
                Tag(tag, segment.start, following.end, joined[pairs.index(index)], confidence)
                for tag, confidence in _scoped(together[index], segment.speaker).items()
                if tag not in found and tag not in alone[index + 1]
            )
        for tag in matches(segment.text, segment.speaker, site_trackers):
            tags.append(Tag(tag, segment.start, segment.end, segment.text, CONFIDENCE))
        if tagger is not None and encoded is not None:
            for tag, score in smart_matches(encoded.vectors[index], segment.speaker, site_trackers,
                                            tagger.tracker_score):
                tags.append(Tag(tag, segment.start, segment.end, segment.text, score))
    identifiers = tuple(f for r in redactions for f in r.findings)
    scores = tuple(sentiment.score(segment.text) for segment in clean)
    return Annotation(clean, tuple(tags), identifiers, scores)


def _classify(texts: list[str], names: tuple[str, ...], tagger: SemanticTagger | None,
              encoded: Encoded | None) -> list[dict[str, float]]:
    """Tags of every text: the segments' own (encoded already), then the joined pairs'."""
    if tagger is None:
        return [classify(text, names) for text in texts]
    return tagger.classify_many(texts, names, encoded)


def _confirmed(found: dict[str, float], index: int, together: dict[int, dict[str, float]],
               ) -> dict[str, float]:
    """The tags of a segment that a window break cut from its neighbour (``together``: the
    tags of each segment read with the next) that the sentence read whole has too, or that
    are all but sure (:data:`FRAGMENT_SURE`): a fragment alone ("nothing gets signed until
    our") is easily misread, but two sentences the recognizer left without a stop between
    them may each say their own thing."""
    whole = [together[i] for i in (index - 1, index) if i in together]
    if not whole:
        return found
    return {tag: c for tag, c in found.items()
            if c >= FRAGMENT_SURE or any(tag in tags for tags in whole)}


def _trackers(trackers: Sequence[str | Tracker]) -> tuple[Tracker, ...]:
    specs = tuple(t for t in trackers if isinstance(t, str))
    parsed = parse_trackers(specs) if specs else ()
    return parsed + tuple(t for t in trackers if isinstance(t, Tracker))


def _scoped(found: dict[str, float], speaker: str) -> dict[str, float]:
    return {tag: c for tag, c in found.items() if allowed(tag, speaker)}


def _continues(segment: Segment, following: Segment) -> bool:
    """Does ``following`` plausibly finish the sentence ``segment`` started?"""
    return not segment.text.rstrip().endswith(_SENTENCE_END) and _follows(segment, following)


def _follows(segment: Segment, following: Segment) -> bool:
    """Is ``following`` the same speaker going on right after ``segment`` (a number read out
    may go on after a sentence end: "My number is." | "five five five ...")?"""
    return segment.speaker == following.speaker and 0 <= following.start - segment.end <= (
        JOIN_GAP_S
    )


def __getattr__(name: str) -> object:
    """The semantic tagger, imported on first use: it needs numpy, which the web UI and the
    upload server (importing the redactor and the trackers from here) never load."""
    if name == "SemanticTagger":
        from gateway.intel.semantic import SemanticTagger

        return SemanticTagger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
