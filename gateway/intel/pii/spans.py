"""What the identifier finders share: the finding they report and the tokens they read."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

Kind = Literal["phone", "email", "card", "ssn", "address"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifier: its kind, its span in the original text and its canonical form."""

    kind: Kind
    start: int
    end: int
    normalized: str


@dataclass(frozen=True, slots=True)
class Token:
    """A word, number or symbol of the text and where it stands."""

    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()


Span = tuple[int, int]

PLACEHOLDER = r"\[(?:PHONE|EMAIL|CARD|SSN|ADDRESS)\]"
# Where a cue word may start: after anything but a letter, so also glued to a digit before it
# ("5call me at"), as it stands once that digit is redacted ("[PHONE]call me at"); never a
# placeholder's own word ("[PHONE]").
CUE_START = r"(?<!\[)(?<![A-Za-z_])"
WORDS = re.compile(rf"{PLACEHOLDER}|[A-Za-z0-9]+(?:'[A-Za-z]+)*|[@._-]", re.ASCII)


def tokens(text: str, pattern: re.Pattern[str] = WORDS) -> list[Token]:
    """The tokens of ``text`` that ``pattern`` matches, in order."""
    return [Token(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]


def inside(token: Token, spans: list[Span]) -> bool:
    """True when ``token`` overlaps one of ``spans``."""
    return any(start < token.end and token.start < end for start, end in spans)


def merged(findings: list[Finding]) -> list[Finding]:
    """``findings`` in order with overlapping ones joined (the earlier one's kind and form),
    empty ones dropped."""
    out: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if finding.start >= finding.end:
            continue
        if out and finding.start < out[-1].end:
            out[-1] = replace(out[-1], end=max(out[-1].end, finding.end))
        else:
            out.append(finding)
    return out
