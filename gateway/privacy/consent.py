"""The site's consent policy and the decision it makes about a transcribed conversation (pure).

In ``one_party`` jurisdictions the rep's own consent suffices; in ``all_party`` ones every party
must know: the conversation needs a disclosure (detected in speech within the first
``disclosure_window_s`` seconds, or declared on the badge) or it is held or purged, as the
policy says. A customer's opt-out (by phrase or by button) always purges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.intel.types import Tag

ONE_PARTY = "one_party"
ALL_PARTY = "all_party"
DISCLOSURE_TAG = "consent.disclosure"
OPT_OUT_TAG = "consent.opt_out"

Outcome = Literal["keep", "hold", "purge"]


@dataclass(frozen=True, slots=True)
class ConsentPolicy:
    """The consent rules in force at the site."""

    jurisdiction: Literal["one_party", "all_party"] = "all_party"
    disclosure_window_s: float = 60.0
    action: Literal["hold", "purge"] = "hold"
    disclosure_version: str = "v1"
    min_confidence: float = 0.8


@dataclass(frozen=True, slots=True)
class Heard:
    """A consent phrase found in the transcript: where, how sure, and its (redacted) words."""

    offset_s: float
    confidence: float
    words: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with a conversation, and why."""

    outcome: Outcome
    reason: str
    disclosure: Heard | None = None
    opt_out: Heard | None = None


def _first(tags: Sequence[Tag], name: str, min_confidence: float) -> Heard | None:
    found = [t for t in tags if t.tag == name and t.confidence >= min_confidence]
    if not found:
        return None
    tag = min(found, key=lambda t: t.start)
    return Heard(tag.start, tag.confidence, tag.text)


def review(tags: Sequence[Tag], *, declared: bool, policy: ConsentPolicy) -> Verdict:
    """Decide from a conversation's tags and whether a disclosure was declared on the badge."""
    disclosure = _first(tags, DISCLOSURE_TAG, policy.min_confidence)
    opt_out = _first(tags, OPT_OUT_TAG, policy.min_confidence)
    if opt_out is not None:
        return Verdict("purge", "opt_out", disclosure, opt_out)
    if policy.jurisdiction == ONE_PARTY:
        return Verdict("keep", "one_party", disclosure)
    if declared:
        return Verdict("keep", "declared", disclosure)
    if disclosure is not None and disclosure.offset_s <= policy.disclosure_window_s:
        return Verdict("keep", "disclosed", disclosure)
    return Verdict(policy.action, "consent_missing", disclosure)
