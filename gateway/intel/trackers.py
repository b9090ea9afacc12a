"""Per-site trackers: keywords or phrases an operator adds, each tagged ``tracker.<label>``.

A tracker is written as one config string:

- ``"warranty"``: the phrase itself, tag ``tracker.warranty``;
- ``"warranty = warranty | guarantee | coverage"``: a label and alternative phrases;
- ``"price-match @customer = price match | beat their price"``: only when that speaker says it.

Phrases match on the tagger's normalised stems, so "guarantees" or "guaranteed" match
"guarantee" and "price-matched" matches "price match".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from gateway.errors import GatewayError
from gateway.intel.tagger import tokenize

PREFIX = "tracker."
CONFIDENCE = 0.9
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

    @property
    def tag(self) -> str:
        """The tag name this tracker emits."""
        return PREFIX + self.label


def slug(text: str) -> str:
    """A tag-safe label from free text: lower case, runs of other characters become '-'."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


def parse_tracker(spec: str) -> Tracker:
    """Parse one tracker definition (syntax in the module docstring)."""
    head, sep, body = spec.partition("=")
    speaker = None
    if "@" in head:
        head, _, speaker = head.partition("@")
        speaker = speaker.strip().lower()
        if speaker not in _SPEAKERS:
            raise TrackerError(f"tracker {spec!r}: speaker must be one of {_SPEAKERS}")
    phrases_text = body if sep else head
    label = slug(head) if head.strip() else ""
    phrases = tuple(p for p in (_keys(part) for part in phrases_text.split("|")) if p)
    if not phrases or not _LABEL.match(label):
        raise TrackerError(f"tracker {spec!r} needs a label and at least one phrase")
    return Tracker(label, phrases, speaker)


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


def matches(text: str, speaker: str, trackers: Iterable[Tracker]) -> list[str]:
    """Tags of the trackers that ``text`` (said by ``speaker``) fires, in definition order."""
    stems = _keys(text)
    return [
        t.tag for t in trackers
        if (t.speaker is None or t.speaker == speaker or speaker not in _SPEAKERS)
        and any(_contains(stems, p) for p in t.phrases)
    ]
