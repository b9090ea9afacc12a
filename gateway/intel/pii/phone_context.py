"""Phone numbers the recognizer garbled, found by what announces them.

In noise "five five five, eight six seven ..." comes out as "time time time 867 time 3 0": too
few digits in a row for :func:`gateway.intel.pii.phones.find_phones`. After a cue such as
"number", "cell", "call me at" or "text me on", every number from the first one on is part of the
phone number, across up to three garbled words between numbers, until the sentence ends. Three
or more digits there are redacted, unless they read as a time or a quantity ("call me after
6 pm", "our phone bill is 120 a month").
"""

from __future__ import annotations

import re

from gateway.intel.pii.numbers import digits, is_number_word
from gateway.intel.pii.phones import PHONE_TOKEN, amounts, number_kind
from gateway.intel.pii.spans import Finding, Span, Token, inside, tokens

MIN_CONTEXT_DIGITS = 3
MAX_GARBLED_WORDS = 3
"""Words between a cue and the first number, or between two numbers of one phone number."""

_CUE = re.compile(
    r"\b(?:phone|cell|cellphone|mobile|telephone|number|callback|extension|whatsapp|area\s+code"
    r"|(?:call|reach|text|ring|phone|contact|dial|message|try)\s+(?:me|us|him|her|them)"
    r"(?:\s+back)?\s+(?:at|on)"
    r")\b",
    re.IGNORECASE,
)
# Words that may stand between a cue and the number without counting as garble.
_FILLERS = frozenset(
    "is it's its it was be at on me my the our his her number phone cell mobile code area "
    "then and uh um so just that's thats yeah yes okay ok sure".split()
)
# Words after which a number goes on to mean something else: "call me at 212 555 0199 after six".
_ENDS = frozenset("and or but if after before around until till by from between".split())
# A short number followed by one of these is a time or a quantity, not part of a phone number.
_UNITS = frozenset(
    "a p am pm o'clock oclock minutes minute hours hour days day weeks week months month "
    "years year dollars dollar bucks cents percent times panels kilowatts kilowatt watts "
    "tonight today tomorrow morning afternoon evening".split()
)
_YEAR = re.compile(r"(?:19|20)[0-9]{2}")
_SENTENCE_END = re.compile(r"[.?!](?:\s|$)")
_TIME = re.compile(r"[0-9]{1,2}:[0-9]{2}")
MAX_TIME_DIGITS = 4


def find_phones_in_context(
    text: str, phones: list[Finding], blocked: list[Span]
) -> list[Finding]:
    """``phones`` plus the garbled phone numbers after cues and after ``phones`` themselves;
    numbers that touch a phone number already found are merged with it. Nothing inside
    ``blocked`` is taken."""
    blocked = blocked + amounts(text)
    words = [t for t in tokens(text, PHONE_TOKEN) if not inside(t, blocked)]
    spans = [(f.start, f.end) for f in phones]
    found = list(phones)
    # A phone number found announces its own garbled tail: "7 0 8, 3 3 1, 6 2 I 4".
    anchors = [m.end() for m in _CUE.finditer(text)] + [f.start for f in phones]
    for anchor in sorted(anchors):
        zone = _numbers_after(text, words, anchor, spans)
        if not zone:
            continue
        start, end = zone[0].start, zone[-1].end
        merged = [f for f in found if f.start < end and start < f.end]
        start = min([start, *(f.start for f in merged)])
        end = max([end, *(f.end for f in merged)])
        number = digits([t for t in words if start <= t.start and t.end <= end
                         and is_number_word(t.low)])
        if not merged and _ordinary(text, words, zone, number):
            continue
        found = [f for f in found if f not in merged]
        found.append(Finding(number_kind(text, start, end, number), start, end, number))
        spans = [(f.start, f.end) for f in found]
    return sorted(found, key=lambda f: f.start)


def _numbers_after(text: str, words: list[Token], at: int, phones: list[Span]) -> list[Token]:
    """The number tokens (and tokens of phone numbers found) that follow a cue ending at offset
    ``at``: none when a sentence ends or too many other words come first."""
    index = next((i for i, t in enumerate(words) if t.start >= at), len(words))
    numbers: list[Token] = []
    garbled = 0
    previous_end = at
    while index < len(words) and garbled <= MAX_GARBLED_WORDS:
        token = words[index]
        if _SENTENCE_END.search(text[previous_end : token.start]):
            break
        if is_number_word(token.low) or inside(token, phones):
            numbers.append(token)
            garbled = 0
        elif token.low in _ENDS and numbers:
            break
        elif numbers or token.low not in _FILLERS:
            garbled += 1
        previous_end = token.end
        index += 1
    return numbers


def _ordinary(text: str, words: list[Token], zone: list[Token], number: str) -> bool:
    """True when a cue's numbers are too few for a phone number, or read as a time, year or
    quantity."""
    if len(number) < MIN_CONTEXT_DIGITS:
        return True
    if len(number) > MAX_TIME_DIGITS:
        return False
    last = zone[-1]
    after = next((t.low for t in words if t.start >= last.end), "")
    if text[last.end :].lstrip().startswith("%"):
        return True
    span = text[zone[0].start : last.end]
    return (
        after in _UNITS
        or bool(_TIME.fullmatch(span))
        or (len(zone) == 1 and bool(_YEAR.fullmatch(span)))
    )
