"""Phone numbers, written or spoken, and the long numbers that turn out to be payment cards or
social security numbers."""

from __future__ import annotations

import re

from gateway.intel.pii.numbers import (
    SCALES,
    ZERO_LETTERS,
    digits,
    is_number_word,
    is_spoken_amount,
)
from gateway.intel.pii.spans import (
    CUE_START,
    PLACEHOLDER,
    Finding,
    Kind,
    Span,
    Token,
    inside,
    tokens,
)

MIN_PHONE_DIGITS = 7

# For phone numbers letters and digits are separate tokens: "call5552124368" holds a number.
PHONE_TOKEN = re.compile(rf"{PLACEHOLDER}|[A-Za-z]+(?:'[A-Za-z]+)*|[0-9]+", re.ASCII)
# Money and thousands-grouped amounts are never phone numbers: "$12,000", "1,250,000" (also
# before a comma: "1,000, and").
_AMOUNT = re.compile(
    r"\$[0-9][0-9,]*(?:\.[0-9]+)?"
    r"|(?<![0-9])(?<![0-9],)[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?(?!,?[0-9])",
    re.ASCII,
)
# A grouped number said shortly after these is money: "it costs 1,234,567", "we paid 18,349".
_MONEY_BEFORE = re.compile(
    r"\b(?:costs?|paid|pay|paying|prices?|priced|worth|budget|save[sd]?|saving|savings|spen[dt]"
    r"|charged?|owe|total|bill|quoted?|rebate|credit|loan|financed?)\b\W+(?:\w+\W+){0,2}$",
    re.IGNORECASE,
)
_MONEY_REACH = 40
# Capitals (not I, L or O, which stand for digits) glued to groups of digits joined by dashes.
_CODE = re.compile(r"(?<![A-Za-z0-9-])[A-HJKMNP-Z][A-Z]{0,2}-?[0-9]+(?:-[0-9]+)+(?![A-Za-z0-9])")
YEAR = re.compile(r"(?:19|20)[0-9]{2}")
_PHONE_GAP = re.compile(r"[\s,.()+-]{0,5}")
_FILLERS = {"dash", "hyphen"}
# A number right before a unit or a clock word is a quantity or a time, never a phone number.
_UNITS = frozenset(
    "minutes minute hours hour days day weeks week months month years year dollars dollar "
    "bucks cents percent times panels kilowatts kilowatt watts watt kwh kw amps amp volts "
    "million per".split()
)
_CLOCK = frozenset("am pm o'clock oclock".split())
_NUMBER_NEXT = re.compile(r"\s+[0-9]")
_CLOCK_TIME = re.compile(r"(?<![0-9:])[0-9]{1,2}:[0-9]{2}(?![0-9:])")
# Words that announce a phone number.
PHONE_CUE = re.compile(
    CUE_START
    + r"(?:phone|cell|cellphone|mobile|telephone|number|callback|extension|whatsapp|area\s+code"
    r"|(?:call|reach|text|ring|phone|contact|dial|message|try)\s+(?:me|us|him|her|them"
    r"|(?:my|our|his|her|their)\s+[a-z]+)(?:\s+back)?\s+(?:at|on)"  # "call my wife on"
    # "my number" as tiny.en writes it in noise: as sure a cue as the word itself.
    r"|my\s+(?:home\s+)?(?:h?umber|under|hunger|hummus|hunter)"
    r")\b",
    re.IGNORECASE,
)
# The same cues as tiny.en writes them in noise ("reach me at" -> "meet me at", "write this
# down" -> "right this town", "my cell" -> "myself"), learned from synthesized speech
# (bench/pii_synth.py). Weaker than the cues above: see phone_context.
MISHEARD_CUE = re.compile(
    CUE_START + r"(?:my\s+(?:upper|channel|normally|go-go)"
    r"|myself|(?:reach|week|meet|get|call|text)\s+(?:me|the)\s+(?:at|up|on|and|mid)"
    r"|(?:write|right|light|like)\s+this\s+(?:down|town|now)|(?:office|this)\s+line"
    r")\b",
    re.IGNORECASE,
)
# "number" names something else after these: "the quote number is Q61-564".
_OTHER_NUMBER = re.compile(
    r"\b(?:quote|model|order|part|invoice|serial|item|version|room|unit|lot|case|reference"
    r"|confirmation|tracking|permit|job|project|panel)\s+$",
    re.IGNORECASE,
)
_NUMBER_OF = re.compile(r"\s+of\b", re.IGNORECASE)  # "the number of panels is 24"
_CUE_REACH = 20
_WRITTEN_SSN = re.compile(r"[0-9]{3}[- ][0-9]{2}[- ][0-9]{4}")
_SSN_CONTEXT = re.compile(r"\b(?:social(?: security)?|ssn|s s n)\b[^.?!]{0,40}$", re.IGNORECASE)


def find_phones(text: str, taken: list[Span]) -> list[Finding]:
    """Runs of seven or more digits, written or spoken, outside ``taken`` and amounts."""
    blocked = taken + amounts(text) + codes(text)
    found: list[Finding] = []
    run: list[Token] = []
    words = tokens(text, PHONE_TOKEN) + [Token("[END]", len(text), len(text))]
    for token, following in zip(words, words[1:] + words[-1:], strict=True):
        usable = not inside(token, blocked) and (
            is_number_word(token.low) or token.low in _FILLERS
        ) and not guards(text, following, blocked) and not is_unit(text, token)
        if usable and (not run or _PHONE_GAP.fullmatch(text[run[-1].end : token.start])):
            run.append(token)
            continue
        found.extend(_phone_from_run(text, run))
        run = [token] if usable else []
    return found


def cue_ends(text: str, cue: re.Pattern[str] = PHONE_CUE) -> list[int]:
    """Where the cues announcing a phone number (:data:`PHONE_CUE` or :data:`MISHEARD_CUE`)
    end in ``text``, in order; "number" after a word like "quote" or "model", or before "of",
    announces something else."""
    return [
        m.end() for m in cue.finditer(text)
        if m.group().lower() != "number" or not (
            _OTHER_NUMBER.search(text, 0, m.start()) or _NUMBER_OF.match(text, m.end())
        )
    ]


def guards(text: str, token: Token, taken: list[Span]) -> bool:
    """True for a unit or clock word (see :func:`is_unit`) that guards the number before it;
    a word inside another identifier guards nothing ("5 12 2019 pm@x.com": the "pm" is an
    address's, which leaves "[EMAIL]" after the number once redacted)."""
    return is_unit(text, token) and not inside(token, taken)


def is_unit(text: str, token: Token) -> bool:
    """True for a unit or a clock word ("dollars", "years", "pm", "a.m.", "o'clock") and for
    the numbers of a percentage or a clock time ("5%", "10:30")."""
    low = token.low
    if low.isdigit() and (
        text[token.end : token.end + 1] == "%"
        or _CLOCK_TIME.match(text, token.start)  # the hour
        or _CLOCK_TIME.search(text[max(0, token.start - 3) : token.end])  # the minutes
    ):
        return True
    if low == "times" and _NUMBER_NEXT.match(text, token.end):  # "8 times 2 7": misheard
        return False
    return low in _UNITS or low in _CLOCK or (
        low in {"a", "p"} and text[token.end : token.end + 2].lower() == ".m"
    )


def amounts(text: str) -> list[Span]:
    """Where ``text`` holds money or thousands-grouped amounts, never phone numbers ("$12,000",
    "1,250,000", "it costs 1,234,567"). The recognizer also groups a phone number's digits in
    thousands ("285, 180,731"): a grouped number that is neither money, nor round, nor said
    after a word of money, nor has decimals, is left to be read as digits."""
    return [(m.start(), m.end()) for m in _AMOUNT.finditer(text) if _money_or_round(text, m)]


def codes(text: str) -> list[Span]:
    """Where ``text`` holds reference codes ("Q30-874", "SE-7600-2"): a quote or part number,
    never a phone number."""
    return [(m.start(), m.end()) for m in _CODE.finditer(text)]


def _money_or_round(text: str, amount: re.Match[str]) -> bool:
    found = amount.group()
    return found.startswith("$") or "." in found or found.endswith("00") or money_before(
        text, amount.start()
    )


def money_before(text: str, start: int) -> bool:
    """True when a word of money ("costs", "paid", "budget") comes shortly before ``start``."""
    return bool(_MONEY_BEFORE.search(text, max(0, start - _MONEY_REACH), start))


def _phone_from_run(text: str, run: list[Token]) -> list[Finding]:
    """Turn a run of number-like tokens into a phone finding if it holds enough digits."""
    while run and (run[0].low in _FILLERS or run[0].low in SCALES):
        run = run[1:]
    while run and (run[-1].low in _FILLERS or run[-1].low in {"double", "triple"}):
        run = run[:-1]
    # A leading "Oh," is an interjection, not a zero.
    while len(run) > 1 and run[0].low in ZERO_LETTERS and not text[
        run[0].end : run[1].start
    ].isspace():
        run = run[1:]
    number = digits(run)
    if len(number) < MIN_PHONE_DIGITS or all(t.low in ZERO_LETTERS for t in run):
        return []
    if _year_list(text, run) or is_spoken_amount(text, run):
        return []
    start = run[0].start
    while start > 0 and text[start - 1] in "(+":
        start -= 1
    return [Finding(number_kind(text, start, run[-1].end, number), start, run[-1].end, number)]


def _year_list(text: str, run: list[Token]) -> bool:
    """True for "2019, 2020": comma-separated years rather than one number."""
    return all(YEAR.fullmatch(t.text) for t in run) and all(
        "," in text[a.end : b.start] for a, b in zip(run, run[1:], strict=False)
    )


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def number_kind(text: str, start: int, end: int, number: str) -> Kind:
    """A run of digits is a card if it passes Luhn at card length, an SSN if introduced as one
    or written as one without a phone cue just before ("my cell is 617-28-4450"), else a phone
    number; all of them are redacted either way."""
    if 13 <= len(number) <= 19 and luhn_valid(number) and len(set(number)) > 1:
        return "card"
    if len(number) == 9 and _SSN_CONTEXT.search(text[:start]):
        return "ssn"
    if len(number) == 9 and _WRITTEN_SSN.fullmatch(text[start:end]) and not PHONE_CUE.search(
        text, max(0, start - _CUE_REACH), start
    ):
        return "ssn"
    return "phone"
