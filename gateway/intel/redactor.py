"""Find identifiers in transcript text and replace them with placeholders.

Phone numbers, e-mail addresses, payment card numbers (13-19 digits passing the Luhn check), US
social security numbers (written 123-45-6789, or nine digits after "social security" / "SSN")
and street addresses ("1234 Oak Street", "twelve thirty four Elm Avenue, apartment 5"). Both
written forms and the spoken forms speech recognition produces ("five five five, two one two
...", "jane dot doe at example dot com") are recognised, also as the recognizer garbles them in
noise (see :mod:`gateway.intel.pii.phone_context`). Spans always refer to the original text.
The finders live in :mod:`gateway.intel.pii`, one module per kind.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.intel.pii.addresses import find_addresses
from gateway.intel.pii.emails import find_emails
from gateway.intel.pii.phone_context import find_phones_in_context
from gateway.intel.pii.phones import MIN_PHONE_DIGITS, find_phones, luhn_valid
from gateway.intel.pii.spans import Finding, Kind

__all__ = [
    "ADDRESS_PLACEHOLDER", "CARD_PLACEHOLDER", "EMAIL_PLACEHOLDER", "MIN_PHONE_DIGITS",
    "PHONE_PLACEHOLDER", "PLACEHOLDERS", "SSN_PLACEHOLDER", "Finding", "Kind", "Redaction",
    "luhn_valid", "redact",
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


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed from it."""

    text: str
    findings: tuple[Finding, ...]


def redact(text: str) -> Redaction:
    """Replace identifiers in ``text`` with placeholders such as ``[PHONE]`` or ``[CARD]``."""
    emails = find_emails(text)
    numbers = find_phones(text, [(f.start, f.end) for f in emails])
    addresses = find_addresses(text, [(f.start, f.end) for f in emails + numbers])
    numbers = find_phones_in_context(text, numbers, [(f.start, f.end) for f in emails + addresses])
    findings = tuple(sorted(emails + numbers + addresses, key=lambda f: f.start))
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        cursor = finding.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), findings)
