"""Find identifiers in transcript text and replace them with placeholders.

Phone numbers, e-mail addresses, payment card numbers (13-19 digits passing the Luhn check), US
social security numbers (written 123-45-6789, or nine digits after "social security" / "SSN")
and street addresses ("1234 Oak Street", "twelve thirty four Elm Avenue, apartment 5"). Both
written forms and the spoken forms speech recognition produces ("five five five, two one two
...", "jane dot doe at example dot com") are recognised. Spans always refer to the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PHONE_PLACEHOLDER = "[PHONE]"
EMAIL_PLACEHOLDER = "[EMAIL]"
CARD_PLACEHOLDER = "[CARD]"
SSN_PLACEHOLDER = "[SSN]"
ADDRESS_PLACEHOLDER = "[ADDRESS]"
MIN_PHONE_DIGITS = 7

Kind = Literal["phone", "email", "card", "ssn", "address"]
PLACEHOLDERS: dict[str, str] = {
    "phone": PHONE_PLACEHOLDER, "email": EMAIL_PLACEHOLDER, "card": CARD_PLACEHOLDER,
    "ssn": SSN_PLACEHOLDER, "address": ADDRESS_PLACEHOLDER,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Finding:
    """One identifier: its kind, its span in the original text and its canonical form."""

    kind: Kind
    start: int
    end: int
    normalized: str


@dataclass(frozen=True, slots=True)
class Redaction:
    """The redacted text and what was removed from it."""

    text: str
    findings: tuple[Finding, ...]


@dataclass(frozen=True, slots=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()


_PLACEHOLDER = r"\[(?:PHONE|EMAIL|CARD|SSN|ADDRESS)\]"
_TOKEN = re.compile(rf"{_PLACEHOLDER}|[A-Za-z0-9]+(?:'[A-Za-z]+)*|[@._-]", re.ASCII)
# For phone numbers letters and digits are separate tokens: "call5552124368" holds a number.
_PHONE_TOKEN = re.compile(rf"{_PLACEHOLDER}|[A-Za-z]+(?:'[A-Za-z]+)*|[0-9]+", re.ASCII)
_WRITTEN_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
    r"\.[A-Za-z]{2,}(?![A-Za-z0-9-])",
    re.ASCII,
)
# Money and thousands-grouped amounts are never phone numbers: "$12,000", "1,250,000".
_AMOUNT = re.compile(
    r"\$[0-9][0-9,]*(?:\.[0-9]+)?|(?<![0-9,])[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?(?![,0-9])",
    re.ASCII,
)
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
_PHONE_GAP = re.compile(r"[\s,.()+-]{0,5}")

_UNITS = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
_TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {
    "twenty": 2, "thirty": 3, "forty": 4, "fifty": 5, "sixty": 6, "seventy": 7,
    "eighty": 8, "ninety": 9,
}  # fmt: skip
_REPEAT = {"double": 2, "triple": 3}
_PHONE_FILLERS = {"dash", "hyphen"}
_ZERO_LETTERS = {"oh", "o"}

_EMAIL_SYMBOLS = {
    "dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-", "at": "@",
}  # fmt: skip
_TLDS = frozenset(
    "com net org edu gov mil io co us uk ca au de fr nl es it info biz me tv app dev ai ly "
    "email online site tech".split()
)
_NOT_LOCAL = frozenset(
    "me us you him her them it i we they he she a an the and or is are was be am look "
    "here there online website site web page that this out home work in on up visit find "
    "go check available listed email mail contact reach call".split()
)


def redact(text: str) -> Redaction:
    """Replace identifiers in ``text`` with placeholders such as ``[PHONE]`` or ``[CARD]``."""
    emails = _find_emails(text)
    numbers = _find_phones(text, [(f.start, f.end) for f in emails])
    taken = [(f.start, f.end) for f in emails + numbers]
    addresses = _find_addresses(text, taken)
    findings = tuple(sorted(emails + numbers + addresses, key=lambda f: f.start))
    parts: list[str] = []
    cursor = 0
    for finding in findings:
        parts.append(text[cursor : finding.start])
        parts.append(PLACEHOLDERS[finding.kind])
        cursor = finding.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), findings)


# --- e-mail -------------------------------------------------------------------------------


def _find_emails(text: str) -> list[Finding]:
    found = [
        Finding("email", m.start(), m.end(), m.group().lower())
        for m in _WRITTEN_EMAIL.finditer(text)
    ]
    taken = [(f.start, f.end) for f in found]
    tokens = [t for t in _tokens(text) if not _inside(t, taken)]
    index = 0
    while index < len(tokens):
        spoken = _spoken_email(text, tokens, index)
        if spoken is None:
            index += 1
            continue
        finding, index = spoken
        found.append(finding)
    return found


def _symbol(token: _Token) -> str:
    """The e-mail character a token stands for, or '' for an ordinary word."""
    if token.text in "@._-" and len(token.text) == 1:
        return token.text
    return _EMAIL_SYMBOLS.get(token.low, "")


def _is_label(token: _Token) -> bool:
    return token.text[0].isalnum() and not _symbol(token)


def _adjacent(text: str, left: _Token, right: _Token) -> bool:
    gap = text[left.end : right.start]
    return len(gap) <= 3 and all(ch.isspace() or ch == "," for ch in gap)


def _spoken_email(text: str, tokens: list[_Token], at: int) -> tuple[Finding, int] | None:
    """Recognise "<local> at <domain> dot <tld>" around the token at index ``at``."""
    if _symbol(tokens[at]) != "@":
        return None
    # Domain: label ("." label)+ ending in a known top-level domain.
    labels: list[str] = []
    end = at
    probe = at + 1
    while probe < len(tokens) and _is_label(tokens[probe]) and (
        _adjacent(text, tokens[probe - 1], tokens[probe])
    ):
        labels.append(tokens[probe].low)
        end = probe
        nxt = probe + 1
        if nxt + 1 < len(tokens) and _symbol(tokens[nxt]) == "." and (
            _adjacent(text, tokens[probe], tokens[nxt])
        ):
            probe = nxt + 1
            continue
        break
    while len(labels) >= 2 and labels[-1] not in _TLDS:
        labels.pop()
        end -= 2
    if len(labels) < 2:
        return None
    # Local part: label (connector label)* before the "at".
    first = at - 1
    if first < 0 or not _is_label(tokens[first]) or not _adjacent(text, tokens[first], tokens[at]):
        return None
    local = [tokens[first].low]
    while first >= 2 and _symbol(tokens[first - 1]) in {".", "_", "-"} and _is_label(
        tokens[first - 2]
    ) and _adjacent(text, tokens[first - 2], tokens[first - 1]):
        local[:0] = [tokens[first - 2].low, _symbol(tokens[first - 1])]
        first -= 2
    while first >= 1 and len(local[0]) == 1 and len(tokens[first - 1].text) == 1 and (
        tokens[first - 1].text.isalnum()
    ):
        first -= 1
        local.insert(0, tokens[first].low)
    if len(local) == 1 and local[0] in _NOT_LOCAL:
        return None
    address = "".join(local) + "@" + ".".join(labels)
    return Finding("email", tokens[first].start, tokens[end].end, address), end + 1


# --- phone --------------------------------------------------------------------------------


def _find_phones(text: str, taken: list[tuple[int, int]]) -> list[Finding]:
    blocked = taken + [(m.start(), m.end()) for m in _AMOUNT.finditer(text)]
    tokens = _tokens(text, _PHONE_TOKEN)
    found: list[Finding] = []
    run: list[_Token] = []
    for token in tokens + [_Token("[END]", len(text), len(text))]:
        usable = not _inside(token, blocked) and _phone_word(token)
        if usable and (not run or _PHONE_GAP.fullmatch(text[run[-1].end : token.start])):
            run.append(token)
            continue
        found.extend(_phone_from_run(text, run))
        run = [token] if usable else []
    return found


def _phone_word(token: _Token) -> bool:
    low = token.low
    return (
        low.isdigit()
        or low in _UNITS
        or low in _TEENS
        or low in _TENS
        or low in _REPEAT
        or low in _PHONE_FILLERS
        or low == "hundred"
    ) and low.isascii()


def _phone_from_run(text: str, run: list[_Token]) -> list[Finding]:
    """Turn a run of number-like tokens into a phone finding if it holds enough digits."""
    while run and (run[0].low in _PHONE_FILLERS or run[0].low == "hundred"):
        run = run[1:]
    while run and (run[-1].low in _PHONE_FILLERS or run[-1].low in _REPEAT):
        run = run[:-1]
    # A leading "Oh," is an interjection, not a zero.
    while len(run) > 1 and run[0].low in _ZERO_LETTERS and not text[
        run[0].end : run[1].start
    ].isspace():
        run = run[1:]
    digits = _digits(run)
    if len(digits) < MIN_PHONE_DIGITS or all(t.low in _ZERO_LETTERS for t in run):
        return []
    if _year_list(text, run):
        return []
    start = run[0].start
    while start > 0 and text[start - 1] in "(+":
        start -= 1
    return [Finding(_number_kind(text, start, run[-1].end, digits), start, run[-1].end, digits)]


_WRITTEN_SSN = re.compile(r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}")
_SSN_CONTEXT = re.compile(r"\b(?:social(?: security)?|ssn|s s n)\b[^.?!]{0,40}$", re.IGNORECASE)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _number_kind(text: str, start: int, end: int, digits: str) -> Kind:
    """A run of digits is a card if it passes Luhn at card length, an SSN if written or
    introduced as one, else a phone number; all of them are redacted either way."""
    if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1:
        return "card"
    if len(digits) == 9 and (
        _WRITTEN_SSN.fullmatch(text[start:end]) or _SSN_CONTEXT.search(text[:start])
    ):
        return "ssn"
    return "phone"


# --- street addresses -----------------------------------------------------------------------

_NUMBER_WORD = (
    r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundred|thousand)"
)
_ORDINAL = (
    r"(?:[0-9]+(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|eleventh|twelfth)"
)
_STREET_SUFFIX = (
    r"(?:street|st|avenue|ave|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|way|place|pl|"
    r"circle|cir|terrace|parkway|pkwy|highway|hwy|trail|square|loop|alley|row)"
)
_ADDRESS = re.compile(
    rf"""
    (?<![\w$.,])
    (?:[0-9]{{1,6}}[A-Za-z]?|{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD}){{0,5}})  # house number
    \s+
    (?:(?:north|south|east|west|n|s|e|w)\.?\s+)?                            # direction
    (?:(?:[A-Z][A-Za-z'.-]*|(?i:{_ORDINAL}))\s+){{1,3}}?                      # street name
    (?i:{_STREET_SUFFIX})\b
    (?:,?\s+(?i:apartment|apt\.?|unit|suite|number|\#)\s*
       (?:[0-9]+[A-Za-z]?|[A-Za-z]\b|{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD}){{0,2}}))?  # unit
    """,
    re.VERBOSE | re.IGNORECASE,
)


def _find_addresses(text: str, taken: list[tuple[int, int]]) -> list[Finding]:
    found = []
    for match in _ADDRESS.finditer(text):
        if any(start < match.end() and match.start() < end for start, end in taken):
            continue
        if not _ADDRESS_NAME.search(match.group()):
            continue
        found.append(Finding("address", match.start(), match.end(),
                             " ".join(match.group().lower().split())))
    return found


# The street name must hold a capitalised word or an ordinal (lower-case common words like
# "3 cars on the way" are not addresses); the case-blind pattern above cannot tell.
_ADDRESS_NAME = re.compile(rf"\s(?:[A-Z][a-z'.-]*|{_ORDINAL})\s")


def _year_list(text: str, run: list[_Token]) -> bool:
    """True for "2019, 2020": comma-separated years rather than one number."""
    return all(_YEAR.fullmatch(t.text) for t in run) and all(
        "," in text[a.end : b.start] for a, b in zip(run, run[1:], strict=False)
    )


def _digits(run: list[_Token]) -> str:
    """The digits a run of numerals and spoken number words stands for."""
    out: list[str] = []
    i = 0
    while i < len(run):
        low = run[i].low
        nxt = run[i + 1].low if i + 1 < len(run) else ""
        step = 1
        if low.isdigit():
            out.append(low)
        elif low in _REPEAT:
            if nxt in _UNITS or (nxt.isdigit() and len(nxt) == 1):
                out.append(str(_UNITS.get(nxt, nxt)) * _REPEAT[low])
                step = 2
        elif low in _UNITS:
            out.append(str(_UNITS[low]))
        elif low in _TEENS:
            out.append(str(_TEENS[low]))
        elif low in _TENS:
            if _UNITS.get(nxt, 0) > 0:
                out.append(f"{_TENS[low]}{_UNITS[nxt]}")
                step = 2
            else:
                out.append(f"{_TENS[low]}0")
        elif low == "hundred":
            out.append("" if nxt in _TENS or nxt in _TEENS else "00")
        i += step
    return "".join(out)


# --- shared -------------------------------------------------------------------------------


def _tokens(text: str, pattern: re.Pattern[str] = _TOKEN) -> list[_Token]:
    return [_Token(m.group(), m.start(), m.end()) for m in pattern.finditer(text)]


def _inside(token: _Token, spans: list[tuple[int, int]]) -> bool:
    return any(start < token.end and token.start < end for start, end in spans)
