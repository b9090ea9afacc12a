"""Who a data-subject request is about, reduced to keyed hashes (HMAC-SHA256 with a site key).

The gateway never stores a customer's phone number, e-mail address or customer reference in
clear: the redactor removes them from transcripts, and only ``HMAC(site key, kind:value)`` is
kept, so a request can find the conversations while the database alone reveals nobody. Values are
normalized as the redactor does (phone: digits; e-mail: lower case), so a number typed by a person
matches the same number spoken in a conversation.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.crypto.errors import KeyFileError
from gateway.crypto.keyfiles import read_secret, write_secret
from gateway.intel.redactor import redact
from gateway.privacy.errors import BadSubject

SUBJECT_KEY_SIZE = 32


class SubjectKey:
    """The site's HMAC key for subject references."""

    def __init__(self, key: bytes) -> None:
        if len(key) != SUBJECT_KEY_SIZE:
            raise ValueError(f"a subject key is {SUBJECT_KEY_SIZE} bytes")
        self._key = key

    @classmethod
    def open_or_create(cls, path: Path) -> SubjectKey:
        if not path.exists():
            try:
                write_secret(path, os.urandom(SUBJECT_KEY_SIZE))
            except KeyFileError:  # another process created it first
                pass
        return cls(read_secret(path))

    def ref(self, kind: str, normalized: str) -> str:
        """The hex HMAC of one normalized identifier."""
        return hmac.new(self._key, f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()


def phone_variants(digits: str) -> list[str]:
    """A number without and with the North American country code (the short form first)."""
    if len(digits) == 11 and digits.startswith("1"):
        return [digits[1:], digits]
    if len(digits) == 10:
        return [digits, "1" + digits]
    return [digits]


@dataclass(frozen=True, slots=True)
class Subject:
    """Identifiers of one data subject, as given by a person; at least one is needed."""

    phone: str | None = None
    email: str | None = None
    customer_ref: str | None = None

    def normalized(self) -> list[tuple[str, str]]:
        """(kind, normalized value) pairs; raises BadSubject when nothing usable is given."""
        pairs: list[tuple[str, str]] = []
        if self.phone:
            found = [f for f in redact(self.phone).findings if f.kind == "phone"]
            digits = found[0].normalized if found else "".join(c for c in self.phone
                                                               if c.isdigit())
            if len(digits) < 7:
                raise BadSubject("a phone number needs at least 7 digits")
            pairs.extend(("phone", d) for d in phone_variants(digits))
        if self.email:
            value = self.email.strip().lower()
            if "@" not in value:
                raise BadSubject("an e-mail address needs an @")
            pairs.append(("email", value))
        if self.customer_ref:
            pairs.append(("customer_ref", self.customer_ref.strip()))
        if not pairs:
            raise BadSubject("name a phone number, an e-mail address or a customer reference")
        return pairs

    def refs(self, key: SubjectKey) -> list[str]:
        return [key.ref(kind, value) for kind, value in self.normalized()]

    def primary_ref(self, key: SubjectKey) -> str:
        """One stable reference for the subject (used in deletion notices)."""
        kind, value = self.normalized()[0]
        return key.ref(kind, value)
