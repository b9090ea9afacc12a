"""Find identifiers in transcript text and replace them with placeholders.

Phone numbers, e-mail addresses, payment card numbers (13-19 digits passing the Luhn check), US
social security numbers (written 123-45-6789, or nine digits after "social security" / "SSN")
and street addresses ("1234 Oak Street", "twelve thirty four Elm Avenue, apartment 5"). Both
written forms and the spoken forms speech recognition produces ("five five five, two one two
...", "jane dot doe at example dot com") are recognised, also as the recognizer garbles them in
noise (see :mod:`gateway.intel.pii.phone_context`). Spans always refer to the original text.
The finders live in :mod:`gateway.intel.pii`, one module per kind. :func:`redact_segments`
redacts a conversation's segments, reading the segments of one speaker that follow each other
also together (a number cut by a segment boundary).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from gateway.intel.pii.addresses import find_addresses
from gateway.intel.pii.emails import find_emails
from gateway.intel.pii.phone_context import find_phones_in_context
from gateway.intel.pii.phones import (
    MIN_PHONE_DIGITS,
    MISHEARD_CUE,
    cue_ends,
    find_phones,
    luhn_valid,
)
from gateway.intel.pii.spans import Finding, Kind, merged

__all__ = [
    "ADDRESS_PLACEHOLDER", "CARD_PLACEHOLDER", "EMAIL_PLACEHOLDER", "MIN_PHONE_DIGITS",
    "PHONE_PLACEHOLDER", "PLACEHOLDERS", "SSN_PLACEHOLDER", "Finding", "Kind", "Redaction",
    "find_identifiers", "luhn_valid", "redact", "redact_segments",
]  # fmt: skip

PHONE_PLACEHOLDER = "[PHONE]"
EMAIL_PLACEHOLDER = "[EMAIL]"
CARD_PLACEHOLDER = "[CARD]"
SSN_PLACEHOLDER = "[SSN]"
ADDRESS_PLACEHOLDER = "[ADDRESS]"

PLACEHOLDERS: dict[str, str] = {
    "phone": PHONE_PLACEHOLDER, "email": EMAIL_PLACEHOLDER, "card": CARD_PLACEHOLDER,
    "ssn": SSN_PLACEHOLDER, "address": ADDRESS_PLACEHOLDER,
}  # fmt: skip


# What may follow a phone cue that ends a segment: "My number is.", "Reach me at."
_CUE_LEFT_OPEN = re.compile(
    r"(?:\s+(?P<verb>is|it's|was|at|on))?\s*(?P<stop>\.)\s*$", re.IGNORECASE
)
_CUE_VERB_END = re.compile(r"\b(?:at|on)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed from it."""

    text: str
    findings: tuple[Finding, ...]


def redact(text: str) -> Redaction:
    """Replace identifiers in ``text`` with placeholders such as ``[PHONE]`` or ``[CARD]``."""
    return _replaced(text, find_identifiers(text))


def find_identifiers(text: str) -> list[Finding]:
    """Every identifier in ``text``, in order, none overlapping another."""
    emails = find_emails(text)
    numbers = find_phones(text, [(f.start, f.end) for f in emails])
    addresses = find_addresses(text, [(f.start, f.end) for f in emails + numbers])
    numbers = find_phones_in_context(text, numbers, [(f.start, f.end) for f in emails + addresses])
    return sorted(emails + numbers + addresses, key=lambda f: f.start)


def redact_segments(texts: Sequence[str], follows: Sequence[bool]) -> list[Redaction]:
    """Redact each text of a conversation, reading a text that ``follows`` the one before (the
    same speaker right after) also together with it: a phone number or an address cut by a
    segment boundary ("My number is" | "five five five, two one two ...", "... 415 772" |
    "9031, that's my cell") is hidden on both sides, as :func:`redact` hides it in one text."""
    found = [find_identifiers(text) for text in texts]
    for right in range(1, len(texts)):
        left = right - 1
        if not follows[right]:
            continue
        offset = len(texts[left]) + 1
        for finding in find_identifiers(f"{_open_cue(texts[left])} {texts[right]}"):
            if finding.start < len(texts[left]):
                found[left].append(_clipped(texts[left], finding, 0))
            if finding.end > offset:
                found[right].append(_clipped(texts[right], finding, offset))
    return [_replaced(text, merged(findings)) for text, findings in zip(texts, found, strict=True)]


def _open_cue(text: str) -> str:
    """``text`` with the full stop after a phone cue that ends it made a space, as the
    recognizer ends a segment cut after the cue ("My number is." | "212 55"); same length."""
    ends = cue_ends(text) + cue_ends(text, MISHEARD_CUE)
    last = _CUE_LEFT_OPEN.match(text, max(ends)) if ends else None
    if last is None or not last.group("verb") and not _CUE_VERB_END.search(text, 0, max(ends)):
        return text  # "That was the number." announces nothing
    stop = last.start("stop")
    return f"{text[:stop]} {text[stop + 1 :]}"


def _clipped(text: str, finding: Finding, offset: int) -> Finding:
    """The part of ``finding`` (a span in a joined text) inside ``text``, which starts at
    ``offset`` of the joined text."""
    start = max(finding.start - offset, 0)
    end = min(finding.end - offset, len(text))
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1] in " ,":  # "415," | "772": the comma stays
        end -= 1
    return replace(finding, start=start, end=max(start, end))


def _replaced(text: str, findings: list[Finding]) -> Redaction:
    """``text`` with each finding replaced by its placeholder."""
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        cursor = finding.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), tuple(findings))
