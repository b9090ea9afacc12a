"""Per-site trackers: keywords or phrases an operator adds, each tagged ``tracker.<label>``.

A tracker is written as one config string:

- ``"warranty"``: the phrase itself, tag ``tracker.warranty``;
- ``"warranty = warranty | guarantee | coverage"``: a label and alternative phrases;
- ``"price-match @customer = price match | beat their price"``: only when that speaker says it;
- ``"warranty ~ Does the warranty cover labor? | What if a panel breaks? | ..."``: a *smart*
  tracker, from 5 to 20 example sentences: a sentence the semantic tagger scores as one more of
  the examples (a logistic unit trained on them against its own labelled sentences, probability
  :data:`THRESHOLD` or more) earns it, whatever its words. Smart trackers need the semantic
  tagger's model; without it they match nothing.

Phrases match on the tagger's normalised stems, so "guarantees" or "guaranteed" match
"guarantee" and "price-matched" matches "price match".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from gateway.errors import GatewayError
from gateway.intel.tagger import tokenize

if TYPE_CHECKING:  # numpy only for the types: the web UI parses trackers without loading it
    from gateway.intel.softmax import Vectors

PREFIX = "tracker."
CONFIDENCE = 0.9
THRESHOLD = 0.5
MIN_EXAMPLES = 5
MAX_EXAMPLES = 20
_LABEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,47}$")
_SPEAKERS = ("rep", "customer")


class TrackerError(GatewayError):
    """A tracker definition cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Tracker:
    """A label, the stem sequences that fire it, and the speaker it is limited to (if any)."""

    label: str
    phrases: tuple[tuple[str, ...], ...]
    speaker: str | None = None
    examples: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        """The tag name this tracker emits."""
        return PREFIX + self.label


def slug(text: str) -> str:
    """A tag-safe label from free text: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


def parse_tracker(spec: str) -> Tracker:
    """Parse one tracker definition (syntax in the module docstring)."""
    if "~" in spec and ("=" not in spec or spec.index("~") < spec.index("=")):
        return _parse_smart(spec)
    head, sep, body = spec.partition("=")
    head, speaker = _speaker(spec, head)
    phrases_text = body if sep else head
    label = slug(head) if head.strip() else ""
    phrases = tuple(p for p in (_keys(part) for part in phrases_text.split("|")) if p)
    if not phrases or not _LABEL.match(label):
        raise TrackerError(f"tracker {spec!r} needs a label and at least one phrase")
    return Tracker(label, phrases, speaker)


def _parse_smart(spec: str) -> Tracker:
    head, _, body = spec.partition("~")
    head, speaker = _speaker(spec, head)
    label = slug(head)
    examples = tuple(dict.fromkeys(e.strip() for e in body.split("|") if e.strip()))
    if not _LABEL.match(label):
        raise TrackerError(f"smart tracker {spec[:60]!r}... needs a label before '~'")
    if not MIN_EXAMPLES <= len(examples) <= MAX_EXAMPLES:
        raise TrackerError(
            f"smart tracker {label!r} has {len(examples)} example sentences; give "
            f"{MIN_EXAMPLES} to {MAX_EXAMPLES}, separated by '|'")
    return Tracker(label, (), speaker, examples)


def _speaker(spec: str, head: str) -> tuple[str, str | None]:
    """``head`` without its ``@speaker`` suffix, and the speaker (checked)."""
    if "@" not in head:
        return head, None
    head, _, speaker = head.partition("@")
    speaker = speaker.strip().lower()
    if speaker not in _SPEAKERS:
        raise TrackerError(f"tracker {spec[:60]!r}: speaker must be one of {_SPEAKERS}")
    return head, speaker


@lru_cache(maxsize=64)
def parse_trackers(specs: tuple[str, ...]) -> tuple[Tracker, ...]:
    """Parse every definition; raises :class:`TrackerError` on the first bad one."""
    return tuple(parse_tracker(spec) for spec in specs)


def _keys(text: str) -> tuple[str, ...]:
    """Stems with trailing e's dropped, so "guarantee" and "guaranteed" share a key."""
    return tuple(stem.rstrip("e") or stem for stem in tokenize(text).stems)


def _contains(stems: Sequence[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(stems[i : i + n]) == phrase for i in range(len(stems) - n + 1))


def hears(tracker: Tracker, speaker: str) -> bool:
    """Can ``speaker`` fire ``tracker`` (unknown speakers can fire any)?"""
    return tracker.speaker is None or tracker.speaker == speaker or speaker not in _SPEAKERS


def matches(text: str, speaker: str, trackers: Iterable[Tracker]) -> list[str]:
    """Tags of the keyword trackers that ``text`` (said by ``speaker``) fires, in order."""
    stems = _keys(text)
    return [
        t.tag for t in trackers
        if hears(t, speaker) and any(_contains(stems, p) for p in t.phrases)
    ]


def similarity(vector: Vectors, examples: Vectors) -> float:
    """The cosine between a sentence's unit vector and its nearest example's."""
    return float((examples @ vector).max()) if len(examples) else 0.0


def smart_matches(
    vector: Vectors, speaker: str, trackers: Iterable[Tracker],
    score: Callable[[tuple[str, ...], Vectors], float],
) -> list[tuple[str, float]]:
    """(tag, score) of the smart trackers a sentence's vector scores at :data:`THRESHOLD` or
    more on; ``score(examples, vector)`` is the semantic tagger's."""
    found = []
    for tracker in trackers:
        if tracker.examples and hears(tracker, speaker):
            probability = score(tracker.examples, vector)
            if probability >= THRESHOLD:
                found.append((tracker.tag, round(probability, 2)))
    return found
