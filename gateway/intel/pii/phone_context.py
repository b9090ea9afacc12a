"""Phone numbers the recognizer garbled: numbers scattered among wrong words.

In noise "five five five, eight six seven ..." comes out as "time time time 867 time 3 0" or
"919, only of 6, 3817": too few digits in a row for :func:`gateway.intel.pii.phones.find_phones`.
Here numbers with at most three other words between them form a cluster, until a sentence ends
or an amount, another identifier, a month or a word like "after" comes; a number right before a
unit ("25 panels", "at 10 pm") is a quantity and ends it too. Words the recognizer writes for
digits ("time", "high", "salmon") join a cluster without starting one, and letters glued to its
digits ("I-1", "OI-14", "6th") are passed over. A cluster is a phone number when

- it holds seven or more digits (three of them said together; misheard digits count once four
  are real) or five digits read out one by one, or it is a phone number's garbled tail (at
  most five words after it in the same sentence); or
- a cue announces it ("number", "cell", "call me at", "text me on" a few words before) and it
  holds three or more digits that do not read as a time, a year or a count of things ("text me
  at 4 tonight", "our phone bill is 120 a month", "my cell is from 2019", "250 contacts"); a
  cue as the recognizer mishears it ("my hunger", "meet me at") needs four digits.

Numbers grouped in thousands ("7,071") are amounts, unless they follow a phone number (its last
digits), a cue announces seven digits or more, or they stand among other digit groups with no
word between ("458, 99,000, 229": eight digits or more, no money, no amount read in two as
"58,000, 911").
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from dataclasses import replace
from typing import NamedTuple

from gateway.intel.pii.numbers import (
    SCALES,
    ZERO_LETTERS,
    digits,
    is_misheard_digit,
    is_number_word,
    is_spoken_amount,
)
from gateway.intel.pii.phones import (
    MIN_PHONE_DIGITS,
    MISHEARD_CUE,
    PHONE_TOKEN,
    YEAR,
    amounts,
    codes,
    cue_ends,
    guards,
    money_before,
    number_kind,
)
from gateway.intel.pii.spans import Finding, Span, Token, inside, tokens

MIN_CONTEXT_DIGITS = 3
MAX_GARBLED_WORDS = 3
"""Other words allowed between a cue and its number, or between two numbers of one cluster."""
MAX_TIME_DIGITS = 4
MIN_READ_OUT_DIGITS = 5
MIN_DENSE_DIGITS = 4
MAX_TAIL_WORDS = 5
MIN_MISHEARD_CUE_DIGITS = 4
MIN_PIECE_DIGITS = 2
MAX_PIECE_WORDS = 3
"""Other words allowed between a phone number and a short group cut off from it."""

# Words that may stand between a cue and its number without counting as other words.
_FILLERS = frozenset(
    "is it's its it was be at on me my the our his her number phone cell mobile code area "
    "then uh um so just that's thats yeah yes okay ok sure".split()
)
# After these words a number means something else: "call me at 212 555 0199 after six".
_ENDS = frozenset("but if after before around until till by from between".split())
# A short number right after these is called by itself: "Call 911", "dial 411".
_CALLED = frozenset("call dial".split())
# Numbers around these are dates: "212 in May, 198 in June" (as the recognizer writes them:
# capitalized, so "I may" is no month).
_DATE_WORDS = frozenset(
    "January February March April May June July August September October November December "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
)
# After a short announced number these make it a time or an amount: "text me at 4 tonight",
# "120 a month".
_TIME_WORDS = frozenset("a p tonight today tomorrow morning afternoon evening".split())
# After a short announced number these make it a count of things: "250 contacts", "350 each".
_PLURAL = re.compile(r"(?!(?:this|thanks|yes|plus|was|has|is|its|us)$)[a-z]{3,}s")
_COUNTED = frozenset("square each per feet foot".split())
_SENTENCE_END = re.compile(r"[.?!]\s")  # searched in the gap between two words
_LETTERS = re.compile(r"[A-Za-z]+")
_ORDINAL = frozenset({"st", "nd", "rd", "th"})
_NO_ORDINAL = re.compile(r"(?<![0-9])(?:[0-9]*[02-9])?[1-3]th\b", re.IGNORECASE)
_DIGIT_BEFORE = re.compile(r"(?<![0-9])[0-9],?\s$")
_DIGIT_AFTER = re.compile(r",?\s[0-9](?![0-9])")
_GLUED_LETTERS = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{1,2}$")
_DIGIT_LETTERS = frozenset({"i", "o", "l"})
_JOINED_BEFORE = re.compile(r"(?:[0-9]|[A-Za-z0-9]-)$")
_JOINED_AFTER = re.compile(r"[0-9]|-[A-Za-z0-9]")
_JOINING = re.compile(r"[\s,.-]{0,3}")
# Said right after a number, these make it a phone number: "577,068, that's my cell".
_NAMED_AFTER = re.compile(
    r"[\s,.-]*(?:that's|that is|it's|is)\s+(?:my|our|the)\s+"
    r"(?:cell|number|phone|mobile|home|office|direct|work)\b",
    re.IGNORECASE,
)
_CODE_GAP = re.compile(r"[\s,]{1,3}")
_DANGLING = re.compile(r"-\s*")
_GROUPED_END = re.compile(r"[0-9],[0-9]{3}$")
_IN_YEAR = frozenset({"in", "since"})
_YEAR_NEXT = re.compile(r"\s+(?:19|20)[0-9]{2}\b")
# Digit groups joined by a comma or a space only, some of them grouped in thousands: "458,
# 99,000, 229", "345856, 174,000".
_MIXED_GROUPS = re.compile(
    r"(?<![\w$.,-])[0-9]+(?:,[0-9]{3})*(?:,?[ ]+[0-9]+(?:,[0-9]{3})*)+(?![\w%]|[.,][0-9])",
    re.ASCII,
)
_GROUP_SEPARATOR = re.compile(r",?[ ]+")
MIN_MIXED_DIGITS = 8
_NEXT_WORD = re.compile(r"\s+([A-Za-z]+)")
_DASHED = re.compile(r"(?<![0-9-])[0-9](?:-[0-9]){2,}(?![0-9])")
_DECIMAL_BEFORE = re.compile(r"[0-9]\.$")
_DECIMAL_AFTER = re.compile(r"\.[0-9]")
_SINCE = re.compile(r"\b(?:in|since|from|until|till|by|year)\s+$", re.IGNORECASE)


def find_phones_in_context(
    text: str, phones: list[Finding], blocked: list[Span]
) -> list[Finding]:
    """``phones`` plus the garbled phone numbers around and after them, each merged with the
    phone numbers it touches. Nothing inside ``blocked`` or an amount is taken, unless the
    recognizer grouped a phone number's digits in thousands (see _with_grouped_numbers)."""
    words = tokens(text, PHONE_TOKEN)
    if not phones and not any(is_number_word(t.low) for t in words):
        return []  # no number, no cluster (most sentences)
    # An amount or a code that overlaps another identifier is that identifier's: "$Q12-12 Oak
    # Street" holds an address, and no code once the address is redacted.
    taken = blocked + [
        span for span in amounts(text) + codes(text) if not inside(Token("", *span), blocked)
    ]
    cues = Cues(cue_ends(text), cue_ends(text, MISHEARD_CUE))
    found = _grown(text, words, phones, cues, taken)
    grouped = _with_mixed_groups(text, words,
                                 _with_grouped_numbers(text, words, found, cues, blocked), blocked)
    if grouped != found:  # what follows a grouped number may be its tail
        found = _grown(text, words, grouped, cues, taken)
    found = [_with_code_before(text, _with_glued_letters(text, f), taken) for f in found]
    found += _pieces_nearby(text, words, found, taken)
    return sorted(found, key=lambda f: f.start)


def _grown(
    text: str, words: list[Token], phones: list[Finding], cues: Cues, taken: list[Span]
) -> list[Finding]:
    """``phones`` with every cluster of numbers that is a phone number or part of one."""
    found = list(phones)
    for cluster in _clusters(text, words, [(f.start, f.end) for f in phones], taken):
        start, end = cluster[0].start, cluster[-1].end
        merged = [f for f in found if f.start < end and start < f.end]
        if [(f.start, f.end) for f in merged] == [(start, end)]:
            continue
        merged += _tail_of(text, words, [f for f in found if f not in merged], start, taken)
        start = min([start, *(f.start for f in merged)])
        end = max([end, *(f.end for f in merged)])
        number = digits([t for t in words if start <= t.start and t.end <= end])
        if not merged and not _phone_like(text, cluster) and not _cut_off(text, number, end) and (
            not _cued(text, words, cues, cluster[0], taken, number, cluster[-1].end)
            or _ordinary(text, words, cluster, number)
        ):
            continue
        found = [f for f in found if f not in merged]
        found.append(Finding(number_kind(text, start, end, number), start, end, number))
    return found


def _with_grouped_numbers(
    text: str, words: list[Token], found: list[Finding], cues: Cues, blocked: list[Span]
) -> list[Finding]:
    """``found`` with the numbers the recognizer grouped in thousands that are phone numbers
    all the same: right after a phone number (its last digits, "[PHONE], 7,071") or announced
    by a cue with seven digits or more ("get me on 427,737,435"). Money ("$") stays."""
    for start, end in amounts(text):
        if text[start] == "$" or inside(Token("", start, end), blocked):
            continue
        number = "".join(ch for ch in text[start:end] if ch.isdigit())
        before = [f for f in found if f.kind == "phone" and f.end <= start]
        last = max(before, key=lambda f: f.end) if before else None
        if last is not None and _JOINING.fullmatch(text, last.end, start):
            found = [f for f in found if f is not last]
            found.append(replace(last, end=end, normalized=last.normalized + number))
        elif len(number) >= MIN_PHONE_DIGITS and _cued(
            text, words, cues, Token(text[start:end], start, end), blocked, number, end
        ):
            found.append(Finding(number_kind(text, start, end, number), start, end, number))
    return found


def _with_mixed_groups(
    text: str, words: list[Token], found: list[Finding], blocked: list[Span]
) -> list[Finding]:
    """``found`` with the runs of digit groups, some grouped in thousands and some not, that
    hold :data:`MIN_MIXED_DIGITS` digits or more: a phone number the recognizer read partly as
    thousands ("458, 99,000, 229", "200, 8,000, 800, 31"). An amount read in two ("58,000,
    911"), a run after a word of money ("$", "paid"), of years only besides the amounts ("2019,
    12,000"), or counting something ("12,000, 500 of them", "167,000 242 panels", "58,000, 911
    in 1991") stays."""
    for run in _MIXED_GROUPS.finditer(text):
        start, end = run.span()
        groups = _GROUP_SEPARATOR.split(run.group())
        bare = [g for g in groups if "," not in g and not YEAR.fullmatch(g)]
        number = "".join(ch for ch in run.group() if ch.isdigit())
        after = next((t for t in words if t.start >= end), None)
        if (
            len(number) < MIN_MIXED_DIGITS or not bare or _thousands_and_rest(groups)
            or all("," not in g for g in groups)
            or inside(Token("", start, end), blocked) or money_before(text, start)
            or after is not None and _counts(text, after)
        ):
            continue
        merged = [f for f in found if f.start < end and start < f.end]
        found = [f for f in found if f not in merged]
        start = min([start, *(f.start for f in merged)])
        end = max([end, *(f.end for f in merged)])
        found.append(Finding(number_kind(text, start, end, number), start, end, number))
    return found


def _thousands_and_rest(groups: list[str]) -> bool:
    """True for a number grouped in thousands and up to three digits after it: one amount
    read in two, "58,000, 911"."""
    return len(groups) == 2 and "," in groups[0] and len(groups[1]) <= 3


def _counts(text: str, word: Token) -> bool:
    """True for a word that makes the number before it a count, a time or a quantity: "of",
    "panels", "tonight", "dollars", "in 1991"."""
    low = word.low
    return low == "of" or low in _TIME_WORDS or low in _COUNTED or guards(text, word, []) or (
        _PLURAL.fullmatch(low) is not None
    ) or low in _IN_YEAR and _YEAR_NEXT.match(text, word.end) is not None


def _tail_of(
    text: str, words: list[Token], found: list[Finding], start: int, taken: list[Span]
) -> list[Finding]:
    """The phone number found shortly before ``start`` in the same sentence, of which the
    numbers at ``start`` are the garbled tail ("my under [728], I do bleed 1"): at most
    :data:`MAX_TAIL_WORDS` words between, none of them an identifier or a word like "after"."""
    before = [f for f in found if f.kind == "phone" and f.end <= start]
    if not before:
        return []
    last = max(before, key=lambda f: f.end)
    between = [t for t in words if last.end <= t.start and t.end <= start]
    if len(between) > MAX_TAIL_WORDS or _SENTENCE_END.search(text[last.end : start]) or any(
        t.text.startswith("[") or inside(t, taken) or t.low in _ENDS for t in between
    ):
        return []
    return [last]


def _pieces_nearby(
    text: str, words: list[Token], found: list[Finding], taken: list[Span]
) -> list[Finding]:
    """Short digit groups (two to four digits) at most :data:`MAX_PIECE_WORDS` words before or
    after a phone number found, also across one sentence end: pieces of it the recognizer cut
    off ("My normal is 608. I double 2, 2, 3, 1, 0."). A year, a time, an amount, a count of
    things, a code or model ("X500", "Q61"), a number called by itself ("Call 911") or one
    after a word like "after" stays. Pieces never make more pieces: a placeholder is no phone
    number, so redacting again finds nothing new."""
    phones = [f for f in found if f.kind == "phone"]
    if not phones:
        return []
    spans = [(f.start, f.end) for f in found]
    pieces: list[Finding] = []
    for cluster in _clusters(text, words, spans, taken):
        if any(inside(t, spans) for t in cluster):
            continue
        number = digits(cluster)
        if not MIN_PIECE_DIGITS <= len(number) <= MAX_TIME_DIGITS or _own_number(
            text, words, cluster
        ):
            continue
        start, end = cluster[0].start, cluster[-1].end
        if any(_close(text, words, (f.start, f.end), (start, end), taken) for f in phones):
            pieces.append(Finding("phone", start, end, number))
    return pieces


def _own_number(text: str, words: list[Token], cluster: list[Token]) -> bool:
    """True for a short group that is a number of its own: a year, money, a count of things
    ("24 panels", "45 a month"), letters glued to it ("X500", "14th"), or called by itself
    ("Call 911")."""
    start, end = cluster[0].start, cluster[-1].end
    after = next((t for t in words if t.start >= end), None)
    before = [t for t in words if t.end <= start]
    return (
        any(YEAR.fullmatch(t.text) for t in cluster) or money_before(text, start)
        or text[start - 1 : start].isalpha() or text[end : end + 1].isalpha()
        or after is not None and _counts(text, after)
        or bool(before) and before[-1].low in _CALLED
    )


def _close(text: str, words: list[Token], phone: Span, piece: Span, taken: list[Span]) -> bool:
    """True when at most :data:`MAX_PIECE_WORDS` words and one sentence end stand between a
    phone number and a piece, none of them an identifier or a word like "after"."""
    if phone[1] <= piece[0]:
        gap = phone[1], piece[0]
    elif piece[1] <= phone[0]:
        gap = piece[1], phone[0]
    else:
        return False
    between = [t for t in words if gap[0] <= t.start and t.end <= gap[1]]
    return (
        len(between) <= MAX_PIECE_WORDS
        and len(_SENTENCE_END.findall(text, *gap)) <= 1
        and not any(t.text.startswith("[") or inside(t, taken) or t.low in _ENDS for t in between)
    )


def _with_glued_letters(text: str, finding: Finding) -> Finding:
    """``finding`` with the one or two letters glued before its first digit: "M7", "I12"."""
    glued = _GLUED_LETTERS.search(text, 0, finding.start)
    return replace(finding, start=glued.start()) if glued else finding


def _with_code_before(text: str, finding: Finding, taken: list[Span]) -> Finding:
    """``finding`` with the reference-code-like run right before it, its garbled head
    ("M7-5-9 308-288", "F-77-1 273-5830"): a code is never read out next to a phone number."""
    if finding.kind != "phone":
        return finding
    for start, end in codes(text):
        if (start, end) in taken and _CODE_GAP.fullmatch(text, end, finding.start):
            head = "".join(ch for ch in text[start:end] if ch.isdigit())
            return replace(finding, start=start, normalized=head + finding.normalized)
    return finding


def _cut_off(text: str, number: str, end: int) -> bool:
    """True for three or more digits cut off by the end of the transcript after a dash, as
    the recognizer stops in the middle of a number read out ("Okay, it's 862-")."""
    return len(number) >= MIN_CONTEXT_DIGITS and _DANGLING.fullmatch(text, end) is not None


def _clusters(text: str, words: list[Token], phones: list[Span], taken: list[Span]
              ) -> list[list[Token]]:
    """Runs of number tokens (and tokens of phone numbers found) with at most
    :data:`MAX_GARBLED_WORDS` other words between two of them, within one sentence. Misheard
    digits ("time", "high") join a run without starting one; letters glued to its digits
    ("I-1", "B8", "6th") are passed over."""
    clusters: list[list[Token]] = []
    current: list[Token] = []
    pending: list[Token] = []  # misheard digits right before a run's first number
    group = 0  # where the numbers written or spoken together start in ``current``
    garbled = 0
    previous: Token | None = None
    for token in words:
        in_phone = inside(token, phones)
        unit = not in_phone and (
            guards(text, token, taken)
            or previous is not None and _GROUPED_END.search(text, 0, previous.end) is not None
            and _PLURAL.fullmatch(token.low) is not None  # "2,437 systems": a count
            or token.low in _IN_YEAR and _YEAR_NEXT.match(text, token.end) is not None
        )  # "56,246 in 1991": an amount of that year
        previous = token
        if unit and garbled == 0 and not _digit_by_digit(current[group:]):
            # "25 panels", "7.2 kW", "at 10 pm": a quantity, not a piece ("nine four nine, day"
            # is read out digit by digit: no quantity)
            kept = [i + 1 for i, t in enumerate(current) if inside(t, phones)]
            del current[max([group, *kept]) :]
        breaker = unit or not in_phone and (
            inside(token, taken) or token.low in _ENDS or token.text in _DATE_WORDS
            or token.text.startswith("[")  # "[EMAIL]"
        )
        if current and (breaker or garbled > MAX_GARBLED_WORDS or _SENTENCE_END.search(
            text[current[-1].end : token.start]
        )):
            clusters.append(current)
            current, garbled = [], 0
        if breaker:
            pending = []
            continue
        if in_phone or is_number_word(token.low):
            if garbled or not current:
                group = len(current)
            current.extend(pending)
            current.append(token)
            pending, garbled = [], 0
        elif weak_digit(text, token):
            (current if current else pending).append(token)
            garbled = 0
        elif _glued(text, token):
            continue
        elif current:
            garbled += 1
        else:
            pending = []
    clusters.append(current)
    return [_trimmed(text, c) for c in clusters if c]


def _digit_by_digit(group: list[Token]) -> bool:
    """True for three or more numbers of one digit each: "nine four nine"."""
    return len(group) >= MIN_CONTEXT_DIGITS and all(len(digits([t])) == 1 for t in group)


def weak_digit(text: str, token: Token) -> bool:
    """True for a word the recognizer wrote for a digit ("time", "high") and for letters
    that look like digits glued to digits ("I-1", "OI-14", "I6"), one digit a letter."""
    return is_misheard_digit(token.low) or (
        set(token.low) <= _DIGIT_LETTERS and _glued(text, token)
    ) or token.text == "I" and _between_digits(text, token)


def _between_digits(text: str, token: Token) -> bool:
    """True for a word between two digits read out one by one: "2, I 2, 7, I 0" ("five" heard
    as "I"); "400 with 6, I, or 2" is no such run."""
    return bool(_DIGIT_BEFORE.search(text, max(0, token.start - 4), token.start)
                and _DIGIT_AFTER.match(text, token.end))


def _glued(text: str, token: Token) -> bool:
    """True for one or two letters joined to a number by a hyphen or nothing ("3-D-L", "B8",
    "6th", "4x6") or in a hyphenated run of single letters ("O-I-I-4")."""
    if len(token.text) > 2 or not token.text.isalpha():
        return False
    before = text[max(0, token.start - 2) : token.start]
    after = text[token.end : token.end + 2]
    return bool(_JOINED_BEFORE.search(before) or _JOINED_AFTER.match(after))


def _trimmed(text: str, cluster: list[Token]) -> list[Token]:
    """``cluster`` up to its last real number or glued letter ("3-0-I-I"), without a
    leading "Oh,"."""
    real = [i for i, t in enumerate(cluster) if not is_misheard_digit(t.low)]
    if real:
        cluster = cluster[: real[-1] + 1]
    return _without_interjection(text, cluster)


def _without_interjection(text: str, cluster: list[Token]) -> list[Token]:
    """``cluster`` without a leading "Oh," (an interjection, not a zero; "O-I" is spelled)."""
    while len(cluster) > 1 and cluster[0].low in ZERO_LETTERS and text[
        cluster[0].end : cluster[1].start
    ].strip() not in {"", "-"}:  # "O-I-I-4" is spelled out
        cluster = cluster[1:]
    return cluster


def _phone_like(text: str, cluster: list[Token]) -> bool:
    """True for five digits read out one by one, and for seven or more digits of which three
    or more were said together, as in any phone number ("919, only of 6, 3817"; "10 kids, 12
    dogs, 15 cats and 20 fish" is not). Years and the zeros of "hundred" do not count; misheard
    digits do when at least :data:`MIN_DENSE_DIGITS` are real ("to 773 OI-14", "to ripple 3
    or 781")."""
    if is_spoken_amount(text, cluster):  # "eight hundred sixty-three and nineteen hundred ..."
        return False
    cluster = [t for t in cluster if not YEAR.fullmatch(t.text)]  # "in 2019, 2020 and 2021"
    if _read_out(text, cluster) or _misheard_ordinals(text, cluster) or _dashed(text, cluster):
        return True
    if _scattered_digits(text, cluster):
        return True
    real = len(digits([t for t in cluster if t.low not in SCALES]))  # "two hundred": 2
    weak = sum(
        1 if is_misheard_digit(t.low) else len(t.text) for t in cluster if weak_digit(text, t)
    )
    if real < MIN_PHONE_DIGITS and (real < MIN_DENSE_DIGITS or real + weak < MIN_PHONE_DIGITS):
        return False
    groups: list[list[Token]] = [[]]
    for token in cluster:  # a misheard digit or a word between ends a group
        if weak_digit(text, token) or groups[-1] and _apart(text, groups[-1][-1], token):
            groups.append([])
        if not weak_digit(text, token):
            groups[-1].append(token)
    return max(len(digits(group)) for group in groups) >= MIN_CONTEXT_DIGITS


def _scattered_digits(text: str, cluster: list[Token]) -> bool:
    """True for :data:`MIN_READ_OUT_DIGITS` or more lone digits (not decimals, not with
    "hundred" or "thousand") that are at least as many as all the other words among them: a
    number read out digit by digit with the noise between the digits heard as words ("I'm only
    day 1 to 6, I day, I 7, 1, 3"). Ordinary talk seldom names five single-digit numbers in
    one breath: counting ("steps 1, 2, 3, 4 and 5", "models 1, 3, 5, 7 and 9") stays, and a
    unit, a time or a date among them ends the cluster."""
    if not cluster or any(t.low in SCALES for t in cluster):
        return False
    lone = [
        t for t in cluster
        if not weak_digit(text, t) and len(digits([t])) == 1 and not _decimal(text, t)
    ]
    spanned = tokens(text[cluster[0].start : cluster[-1].end], PHONE_TOKEN)
    others = [t for t in spanned if not (t.low.isdigit() or is_number_word(t.low))]
    values = [int(digits([t])) for t in lone]
    steps = {b - a for a, b in zip(values, values[1:], strict=False)}
    counting = len(steps) == 1 and 0 not in steps  # "1, 2, 3, 4 and 5", "1, 3, 5, 7, 9"
    return len(lone) >= MIN_READ_OUT_DIGITS and len(lone) >= len(others) and not counting


def _decimal(text: str, token: Token) -> bool:
    """True for the digits of a decimal number: the "3" and the "7" of "3.7"."""
    before = _DECIMAL_BEFORE.search(text, max(0, token.start - 2), token.start)
    return bool(before or _DECIMAL_AFTER.match(text, token.end))


def _dashed(text: str, cluster: list[Token]) -> bool:
    """True for five or more digits of which three or more single ones are written joined by
    dashes, as the recognizer writes digits read out ("8-6-2, number 1-3"), unless the last
    counts something ("as easy as 1-2-3" is three digits, "the 2-1-0 plan for 25 homes")."""
    if not cluster or len(digits(cluster)) < MIN_READ_OUT_DIGITS or not _DASHED.search(
        text, cluster[0].start, cluster[-1].end
    ):
        return False
    after = _NEXT_WORD.match(text, cluster[-1].end)
    return after is None or not _counts(text, Token(after.group(1), after.start(1), after.end(1)))


def _misheard_ordinals(text: str, cluster: list[Token]) -> bool:
    """True for five or more digits the recognizer wrote as ordinals, one of them no ordinal
    at all ("8th, 3th, 11th, 4th"): dates say "3rd" (though "April 23th, 3th" happens)."""
    return bool(cluster) and len(digits(cluster)) >= MIN_READ_OUT_DIGITS and bool(
        _NO_ORDINAL.search(text, cluster[0].start, cluster[-1].end + 2)
    )


def _read_out(text: str, cluster: list[Token]) -> bool:
    """True for five or more single digits read out one after another: "1, 1, 9, 7, 8"; a
    misheard digit counts as one when three are real ("high for 6, 3, 8, 2")."""
    run = real = 0
    previous: Token | None = None
    for token in cluster:
        weak = weak_digit(text, token)
        together = previous is not None and not _apart(text, previous, token)
        if len(digits([token])) != 1 and not weak:
            run = real = 0
        elif not together:
            run, real = 1, int(not weak)
        else:
            run, real = run + 1, real + (not weak)
        if run >= MIN_READ_OUT_DIGITS and real >= MIN_CONTEXT_DIGITS:
            return True
        previous = token
    return False


def _apart(text: str, left: Token, right: Token) -> bool:
    """True when a word other than letters glued to a number stands between two tokens; an
    ordinal's ending counts as a word ("14th, 15th or 16th" are three dates)."""
    return any(
        m.group().lower() in _ORDINAL or not _glued(text, Token(m.group(), m.start(), m.end()))
        for m in _LETTERS.finditer(text, left.end, right.start)
    )


class Cues(NamedTuple):
    """Where the cues of a text end: heard right ("call me at") and misheard ("meet me at")."""

    heard: list[int]
    misheard: list[int]


def _cued(
    text: str, words: list[Token], cues: Cues, first: Token, taken: list[Span], number: str,
    end: int,
) -> bool:
    """True when a cue announces the number from ``first`` to ``end`` or names it right after
    ("577,068, that's my cell"); a misheard cue only for :data:`MIN_MISHEARD_CUE_DIGITS` digits
    or more ("myself, 300 shingles" stays)."""
    return _announced(text, words, cues.heard, first, taken) or (
        _NAMED_AFTER.match(text, end) is not None
    ) or (
        len(number) >= MIN_MISHEARD_CUE_DIGITS
        and _announced(text, words, cues.misheard, first, taken)
    )


def _announced(
    text: str, words: list[Token], cues: list[int], first: Token, taken: list[Span]
) -> bool:
    """True when a cue ends a few words before ``first`` in the same sentence, with no other
    identifier between (the nearest cue decides: any earlier one has more words and maybe a
    sentence end in between)."""
    nearest = bisect_right(cues, first.start) - 1
    if nearest < 0 or _SENTENCE_END.search(text[cues[nearest] : first.start]):
        return False
    starts = [t.start for t in words]
    between = words[bisect_left(starts, cues[nearest]) : bisect_left(starts, first.start)]
    if any(t.text.startswith("[") or inside(t, taken) for t in between):
        return False
    return sum(t.low not in _FILLERS for t in between) <= MAX_GARBLED_WORDS


def _ordinary(text: str, words: list[Token], cluster: list[Token], number: str) -> bool:
    """True when an announced cluster is too short for a phone number, or reads as a time, a
    year or a count of things ("my cell has 250 contacts", "1200 square feet"; units and
    clock times never get into a cluster)."""
    if len(number) < MIN_CONTEXT_DIGITS:
        return True
    if len(number) > MAX_TIME_DIGITS:
        return False
    last = cluster[-1]
    after = next((t.low for t in words if t.start >= last.end), "")
    span = text[cluster[0].start : last.end]
    return (
        after in _TIME_WORDS or after in _COUNTED or _PLURAL.fullmatch(after) is not None
        or bool(YEAR.fullmatch(span) and _SINCE.search(text, 0, cluster[0].start))
    )
