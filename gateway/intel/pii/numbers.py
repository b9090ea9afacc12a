"""Spoken numbers as speech recognition writes them: "five five five", "double two",
"twenty one", "one eight hundred", read as the digits they stand for."""

from __future__ import annotations

import re

from gateway.intel.pii.spans import Token

ONES = {
    "zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
}  # fmt: skip
TEENS = {
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {
    "twenty": 2, "thirty": 3, "forty": 4, "fifty": 5, "sixty": 6, "seventy": 7,
    "eighty": 8, "ninety": 9,
}  # fmt: skip
REPEAT = {"double": 2, "triple": 3}
# "hundred" and "thousand": a phone number's groups are read with them too ("six thousand six
# hundred eighty two"); their zeros are written only when no smaller number follows.
SCALES = frozenset({"hundred", "thousand"})
ZERO_LETTERS = {"oh", "o"}
# Words of money: "hundred" before a ten, or any "thousand", in their sentence is an amount
# ("eight hundred sixty", "forty two thousand five").
_MONEY_WORDS = re.compile(
    r"\b(?:million|dollars?|bucks|cents|paid|pay|costs?|prices?|priced|budget|loan)\b",
    re.IGNORECASE,
)
# Words tiny.en writes for a digit read out in noise ("nine one nine" -> "time one time",
# "seven" -> "salmon", "five" -> "high"), learned from synthesized speech (bench/pii_synth.py;
# "nein", "hi", "fine" and "sick" by analogy, not seen there).
# Never digits by themselves: they only fill out a run of real numbers.
MISHEARD = frozenset(
    "time ine nein high hi fine for or poor more fort follow to do too duo ate height "
    "won salmon sanven near free pre hero sit sick".split()
)


def is_number_word(low: str) -> bool:
    """True for a lower-case word that is, or stands for, digits."""
    return low.isascii() and (
        low.isdigit() or low in ONES or low in TEENS or low in TENS or low in REPEAT
        or low in SCALES
    )


def is_spoken_amount(text: str, run: list[Token]) -> bool:
    """True for numbers said the way amounts and years are: "hundred" followed by a ten or a
    teen, or any "thousand", in a sentence of money ("thirty six thousand eight hundred
    sixty-three dollars"), and "hundred" after a teen ("nineteen hundred eighty"). A phone
    number's groups are said that way too ("six hundred eighty three, six thousand six hundred
    eighty two"): without money or a year they stay digits."""
    money = _MONEY_WORDS.search(text) is not None
    if any(t.low == "thousand" for t in run) and (money or _thousands_of_an_amount(run)):
        return True
    return any(
        b.low == "hundred" and (c.low in TENS or c.low in TEENS) and (money or a.low in TEENS)
        for a, b, c in zip([Token("", 0, 0), *run], run, run[1:], strict=False)
    )


def _thousands_of_an_amount(run: list[Token]) -> bool:
    """True for "thousand" after more than one digit or before a ten or a teen: "forty nine
    thousand", "three hundred six thousand", "two thousand twenty". A phone number's group
    says one digit before it and a hundred or a digit after: "six thousand six hundred"."""
    lows = ["", "", *(t.low for t in run), ""]
    return any(
        low == "thousand" and (
            lows[i - 1] in TENS or lows[i - 1] in TEENS or lows[i + 1] in TENS
            or lows[i + 1] in TEENS or lows[i - 2] in TENS or lows[i - 2] in SCALES
            or len(lows[i - 1]) > 1 and lows[i - 1].isdigit()
        )
        for i, low in enumerate(lows)
    )


def is_misheard_digit(low: str) -> bool:
    """True for a word the recognizer writes for a digit in noise (see :data:`MISHEARD`)."""
    return low in MISHEARD


def digits(run: list[Token]) -> str:
    """The digits a run of numerals and spoken number words stands for."""
    out: list[str] = []
    i = 0
    while i < len(run):
        low = run[i].low
        nxt = run[i + 1].low if i + 1 < len(run) else ""
        step = 1
        if low.isdigit():
            out.append(low)
        elif low in REPEAT:
            if nxt in ONES or (nxt.isdigit() and len(nxt) == 1):
                out.append(str(ONES.get(nxt, nxt)) * REPEAT[low])
                step = 2
        elif low in ONES:
            out.append(str(ONES[low]))
        elif low in TEENS:
            out.append(str(TEENS[low]))
        elif low in TENS:
            if ONES.get(nxt, 0) > 0:
                out.append(f"{TENS[low]}{ONES[nxt]}")
                step = 2
            else:
                out.append(f"{TENS[low]}0")
        elif low == "hundred":
            out.append("" if nxt in TENS or nxt in TEENS else "00")
        elif low == "thousand":
            out.append("" if nxt.isdigit() or nxt in ONES or nxt in TEENS or nxt in TENS else "000")
        i += step
    return "".join(out)
