"""Redaction of phone numbers and e-mail addresses, written and as speech recognition gives them."""

from __future__ import annotations

import csv
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import bench_script, synthesize
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.intel import Segment, annotate
from gateway.intel.redactor import EMAIL_PLACEHOLDER, PHONE_PLACEHOLDER, redact, redact_segments
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio

PHONES = [
    ("Call 555-212-4368 today.", "Call [PHONE] today.", "5552124368"),
    ("(555) 212 4368", "[PHONE]", "5552124368"),
    ("+1 555 212 4368 is my cell", "[PHONE] is my cell", "15552124368"),
    ("555.212.4368", "[PHONE]", "5552124368"),
    ("It's 555, 212, 4368.", "It's [PHONE].", "5552124368"),
    ("5-5-5-2-1-2-4-3-6-8...", "[PHONE]...", "5552124368"),
    (
        "You can reach me at five five five, two one two, four three six eight.",
        "You can reach me at [PHONE].",
        "5552124368",
    ),
    ("five five five two one two four three six eight", "[PHONE]", "5552124368"),
    ("555 two one two 4368 works", "[PHONE] works", "5552124368"),
    ("It's oh two oh seven double five, one two three.", "It's [PHONE].", "020755123"),
    ("Oh, five five five, two one two, four three six eight", "Oh, [PHONE]", "5552124368"),
    ("one eight hundred five five five one two one two", "[PHONE]", "18005551212"),
    ("five five five twenty one twenty, forty three sixty eight", "[PHONE]", "5552120" "4368"),
    ("Try triple five dash two one two dash four three six eight", "Try [PHONE]", "5552124368"),
    ("my cell is 212-4368", "my cell is [PHONE]", "2124368"),
]

EMAILS = [
    ("jane.doe@example.com is me", "[EMAIL] is me", "jane.doe@example.com"),
    ("Write to JANE.DOE@Example.COM.", "Write to [EMAIL].", "jane.doe@example.com"),
    ("It's jane dot doe at example dot com.", "It's [EMAIL].", "jane.doe@example.com"),
    ("jane underscore doe at gmail dot com", "[EMAIL]", "jane_doe@gmail.com"),
    ("reach me at jane dot doe at gmail dot com", "reach me at [EMAIL]", "jane.doe@gmail.com"),
    ("send it to jane.doe at example.com", "send it to [EMAIL]", "jane.doe@example.com"),
    ("it is j d o e at gmail dot com", "it is [EMAIL]", "jdoe@gmail.com"),
    ("mark dash lee at acme dot co dot uk", "[EMAIL]", "mark-lee@acme.co.uk"),
]

CLEAN = [
    "The system comes with a twenty five year warranty on the panels.",
    "We moved into this house about six years ago.",
    "It costs $12,000 before the credit, or 12,000 dollars.",
    "The whole project was $1,250,000 across the county.",
    "We had quotes in 2019, 2020 and 2021.",
    "Each panel is 400 watts and the system is 7.2 kilowatts.",
    "Oh, I see, one or two of them.",
    "Check us out at sunrun dot com.",
    "Look at example dot com for the specs.",
    "The kids are at school until three.",
    "We installed 2,500 systems and 300 batteries last year.",
]


@pytest.mark.parametrize(("text", "expected", "digits"), PHONES)
def test_phone_numbers_are_replaced(text: str, expected: str, digits: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("phone", digits)]


@pytest.mark.parametrize(("text", "expected", "address"), EMAILS)
def test_email_addresses_are_replaced(text: str, expected: str, address: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("email", address)]


@pytest.mark.parametrize("text", CLEAN)
def test_ordinary_numbers_and_words_are_kept(text: str) -> None:
    assert redact(text) == redact(text).__class__(text, ())


def test_spans_point_into_the_original_text() -> None:
    text = "Call five five five, two one two, four three six eight or mail jo@ex.org."
    result = redact(text)
    assert [text[f.start : f.end] for f in result.findings] == [
        "five five five, two one two, four three six eight",
        "jo@ex.org",
    ]
    assert result.text == "Call [PHONE] or mail [EMAIL]."


@pytest.mark.parametrize("text", [
    "Look at sunrun.com and tesla.com before you sign.",
    "Compare www.Tesla.com and Sunrun.com.au first.",
])
def test_two_sites_joined_by_and_are_not_an_address(text: str) -> None:
    assert redact(text).text == text


def test_an_address_is_not_cut_out_of_the_middle_of_a_number() -> None:
    assert redact("it came to 1,000five at x.com").text == "it came to [EMAIL]"
    assert redact("Right,info at acme dot com").text == "Right,[EMAIL]"


def test_phone_and_email_in_one_text() -> None:
    result = redact("I'm at 555 212 4368, or jane dot doe at example dot com")
    assert result.text == "I'm at [PHONE], or [EMAIL]"
    assert [f.kind for f in result.findings] == ["phone", "email"]


# --- properties ---------------------------------------------------------------------------

# Seven or more digits with at most one space, dot, dash or bracket between them, not an amount.
PHONE_LIKE = re.compile(r"(?<![0-9$,.])[0-9](?:[ .()-]?[0-9]){6,}", re.ASCII)

DIGIT_WORDS = ["zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SEPARATORS = [" ", ", ", "-", ". ", " "]


@st.composite
def phone_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """A 7 to 11 digit phone number, written or spoken, and its digits."""
    digits = draw(st.text(alphabet="0123456789", min_size=7, max_size=11))
    groups, rest = [], digits
    while rest:
        size = draw(st.integers(1, 4))
        groups.append(rest[:size])
        rest = rest[size:]
    spoken = draw(st.booleans())
    parts = [
        " ".join(DIGIT_WORDS[int(d) + (d != "0")] for d in group) if spoken else group
        for group in groups
    ]
    sep = draw(st.sampled_from(SEPARATORS))
    return sep.join(parts), digits


WORDS = st.sampled_from(
    ["call", "me", "at", "the", "price", "is", "my", "cell", "please", "thanks", "okay", "so"]
)


@given(phone_numbers(), st.lists(WORDS, max_size=4), st.lists(WORDS, max_size=4))
def test_phone_numbers_in_sentences_are_always_removed(
    phone: tuple[str, str], before: list[str], after: list[str]
) -> None:
    spoken, digits = phone
    text = " ".join([*before, spoken, *after])
    result = redact(text)
    assert re.search(r"\[(?:PHONE|SSN|CARD)\]", result.text)  # "000 00 0000" reads as an SSN
    assert digits in {f.normalized for f in result.findings}
    assert not PHONE_LIKE.search(result.text)


@given(st.text())
def test_never_leaves_a_phone_like_digit_run(text: str) -> None:
    assert not PHONE_LIKE.search(redact(text).text)


def pieces(*items: str) -> st.SearchStrategy[str]:
    """Texts glued together from the given pieces."""
    return st.lists(st.sampled_from(items), max_size=30).map("".join)


@given(pieces(*"0123456789 ,.-()+$@_aot", "dot ", "at "))
def test_digit_heavy_text_never_leaves_a_phone_like_run(text: str) -> None:
    assert not PHONE_LIKE.search(redact(text).text)


@given(st.text())
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text).text
    assert redact(once).text == once


IDENTIFIER_LIKE = pieces(
    "five ", "oh ", "double ", "twenty ", "hundred ", "at ", "dot ", "com ", "jane ", "gmail ",
    "underscore ", ", ", "-", "5", "12", "@", ".", "[PHONE]", "[EMAIL]", " ", "$", "1,000",
    "[ADDRESS]", "x.com", "number ", "call me at ", "pm ", "2019 ", "email ", "pm@",
    "years ", "%", "thousand ", "I ", "time ", "my ", "copy ", "Jo ", "the ", ".net ",
    ". ", "608 ", "not ", "net ", "Ryan ", "send it to ", "Call ",
    "be ", "have to ", "and ", "outlook.com ", "underscore Price ", "hotmale ", "come ", "on ",
    "3, ", "7 ",
)


@given(IDENTIFIER_LIKE)
@example("five five 2019 1,000five at x.com")  # once cut an address out of "1,000five"
@example("5 12 2019 pm@x.com")  # an address's "pm" once guarded the number before it
@example("outlook.com call me at outlook.com ")  # the first was once taken as the second's name
@example("pm@x.comfive and outlook.com ")  # "comfive" was once taken as the second's name
@example("email five outlook.com , outlook.com ")  # a name once covered the other address
def test_redaction_is_idempotent_on_identifier_like_text(text: str) -> None:
    once = redact(text).text
    assert redact(once).text == once


@pytest.mark.parametrize(
    ("texts", "expected"),
    [  # a number cut by a segment boundary, after its cue or before its naming
        (["My number is", "212 55, thanks."], ["My number is", "[PHONE], thanks."]),
        (["My number is.", "212 55, thanks."], ["My number is.", "[PHONE], thanks."]),
        (["Sure, reach me at.", "4 1 5 7 7"], ["Sure, reach me at.", "[PHONE]"]),
        (["You can reach me at 415,", "772, thanks."], ["You can reach me at [PHONE],",
                                                       "[PHONE], thanks."]),
        (["Text me at", "919, only of 6"], ["Text me at", "[PHONE]"]),
        (["Email me at jane dot", "doe at gmail dot com"], ["Email me at [EMAIL]", "[EMAIL]"]),
        # near misses: an amount, a count and a time after a cue's segment stay
        (["The price is", "212 a month."], ["The price is", "212 a month."]),
        (["My cell has", "250 contacts."], ["My cell has", "250 contacts."]),
        (["Call me at", "3 pm on Friday."], ["Call me at", "3 pm on Friday."]),
        (["My number is. I have", "212 55."], ["My number is. I have", "212 55."]),
        (["That was the number.", "We sold 212 55."], ["That was the number.",
                                                        "We sold 212 55."]),
    ],
)
def test_a_number_cut_by_a_segment_boundary_is_hidden_on_both_sides(
    texts: list[str], expected: list[str]
) -> None:
    assert [r.text for r in redact_segments(texts, [False, True])] == expected
    assert [r.text for r in redact_segments(texts, [False, False])] == [redact(t).text
                                                                         for t in texts]


def test_segments_are_read_together_only_when_one_follows_the_other() -> None:
    segments = [Segment(0.0, 1.0, "My number is", "customer"),
                Segment(1.2, 2.0, "212 55, thanks.", "customer"),
                Segment(2.1, 3.0, "My number is", "customer"),
                Segment(3.1, 4.0, "212 55, thanks.", "rep"),  # another speaker
                Segment(4.1, 5.0, "My number is", "rep"),
                Segment(9.0, 10.0, "212 55, thanks.", "rep")]  # much later
    texts = [s.text for s in annotate(segments).segments]
    assert texts == ["My number is", "[PHONE], thanks.", "My number is", "212 55, thanks.",
                     "My number is", "212 55, thanks."]


@given(st.lists(IDENTIFIER_LIKE, min_size=1, max_size=4), st.lists(st.booleans(), min_size=4,
                                                                   max_size=4))
def test_redacting_a_conversation_twice_changes_nothing_more(
    texts: list[str], follows: list[bool]
) -> None:
    once = [r.text for r in redact_segments(texts, follows[: len(texts)])]
    assert [r.text for r in redact_segments(once, follows[: len(texts)])] == once


@given(st.text())
def test_findings_are_ordered_disjoint_spans_of_the_original(text: str) -> None:
    result = redact(text)
    last = 0
    for finding in result.findings:
        assert last <= finding.start < finding.end <= len(text)
        last = finding.end
    assert result.text.count(PHONE_PLACEHOLDER) + result.text.count(EMAIL_PLACEHOLDER) >= len(
        result.findings
    )


# --- redaction v2: cards, social security numbers, street addresses ---------------------------

V2 = [
    ("My card is 4111 1111 1111 1111, expiring soon.", "My card is [CARD], expiring soon.",
     "card", "4111111111111111"),
    ("card number four one one one, one one one one, one one one one, one one one one",
     "card number [CARD]", "card", "4111111111111111"),
    ("Use 5500-0000-0000-0004 for the deposit.", "Use [CARD] for the deposit.", "card",
     "5500000000000004"),
    ("My social is 123-45-6789.", "My social is [SSN].", "ssn", "123456789"),
    ("my social security number is one two three, four five, six seven eight nine",
     "my social security number is [SSN]", "ssn", "123456789"),
    ("We live at 1234 Oak Street, apartment 5.", "We live at [ADDRESS].", "address",
     "1234 oak street, apartment 5"),
    ("It is twelve thirty four Elm Avenue.", "It is [ADDRESS].", "address",
     "twelve thirty four elm avenue"),
    ("Come to 55 West 5th Avenue tomorrow.", "Come to [ADDRESS] tomorrow.", "address",
     "55 west 5th avenue"),
]

V2_CLEAN = [
    "I have 2 cars on the way.",
    "We need 3 panels on the east side of the roof.",
    "The system is 7.2 kilowatts with 18 panels.",
    "Take the second street on the left.",
]


@pytest.mark.parametrize(("text", "expected", "kind", "normalized"), V2)
def test_cards_ssns_and_addresses_are_replaced(
    text: str, expected: str, kind: str, normalized: str
) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [(kind, normalized)]


@pytest.mark.parametrize("text", V2_CLEAN)
def test_ordinary_streets_and_counts_are_kept(text: str) -> None:
    assert redact(text).findings == ()


def test_a_long_number_failing_luhn_is_still_redacted_as_a_phone_number() -> None:
    result = redact("number 4111 1111 1111 1112")
    assert result.text == "number [PHONE]" and result.findings[0].kind == "phone"


def test_nine_digits_without_context_are_a_phone_number() -> None:
    assert redact("call 212 555 0199").findings[0].kind == "phone"


@given(st.lists(st.integers(0, 9), min_size=11, max_size=17))
def test_luhn_check_digit_makes_a_card(digits: list[int]) -> None:
    from gateway.intel.redactor import luhn_valid

    body = "".join(map(str, [4, *digits]))
    check = next(d for d in range(10) if luhn_valid(body + str(d)))
    number = body + str(check)
    result = redact(f"charge {number} please")
    assert result.text == "charge [CARD] please"
    assert result.findings[0].normalized == number


def test_annotate_tags_the_new_identifiers() -> None:
    result = annotate([Segment(0.0, 3.0, "Card 4111 1111 1111 1111 at 12 Main Street.")])
    assert {t.tag for t in result.tags} >= {"pii.card", "pii.address"}
    assert "4111" not in result.segments[0].text and "Main" not in result.segments[0].text


# --- what the recognizer garbles: partial phone numbers in context, glued e-mail addresses -----

GARBLED_PHONES = [
    ("call me at time time time 867 time 3 0", "call me at [PHONE]", "86730"),
    ("My cell is 617-228", "My cell is [PHONE]", "617228"),
    ("my number is four one five, then a 72", "my number is [PHONE]", "41572"),
    ("text me at 919, only of 6, 3817 okay", "text me at [PHONE] okay", "91963817"),
    ("reach me at nine oh two", "reach me at [PHONE]", "902"),
    ("Sure, my mobile is I12, 3, 4, 7", "Sure, my mobile is [PHONE]", "12347"),
    ("You can call me back on 305 2 9", "You can call me back on [PHONE]", "30529"),
    # No cue, but seven digits among few garbled words, or a phone number's garbled tail.
    ("week we have 919, only of 6, 3817.", "week we have [PHONE].", "91963817"),
    ("Step 3 of 7 0 8, 3 3 1, 6 2 I 4.", "Step [PHONE].", "3708331624"),
    ("My number is 415 772 9031, I did 55 yes.", "My number is [PHONE] yes.", "415772903155"),
    # Words the recognizer writes for digits in noise ("to", "high", "OI") fill a number out.
    ("so it is to 773 OI-14.", "so it is [PHONE].", "77314"),
    ("I am high for 6, 3, 8, 2.", "I am [PHONE].", "6382"),
    # Cues as the recognizer mishears them.
    ("Let me give you my hunger, 413, 6 9 7.", "Let me give you my hunger, [PHONE].", "413697"),
    ("You can try my channel, 2 1 6 4.", "You can try my channel, [PHONE].", "2164"),
    ("Sure, right this town, 596 3.", "Sure, right this town, [PHONE].", "5963"),
    ("Reach me at 9 4 9 8 times 2 7 8", "Reach me at [PHONE]", "9498278"),
    # Digits the recognizer grouped in thousands: a phone number's end, or announced.
    ("My cell is 415 772, 9,031.", "My cell is [PHONE].", "4157729031"),
    ("You can get me on 427,737,435.", "You can get me on [PHONE].", "427737435"),
    ("Okay, it's 285, 180,731, call after lunch.", "Okay, it's [PHONE], call after lunch.",
     "285180731"),
    # Digit groups some of which the recognizer grouped in thousands, with no word between.
    ("My shell is 458, 99,000, 229.", "My shell is [PHONE].", "45899000229"),
    ("Okay, it's 345856, 174,000, call after lunch.", "Okay, it's [PHONE], call after lunch.",
     "345856174000"),
    ("Okay, 200, 8,000, 800, 31, all after lunch.", "Okay, [PHONE], all after lunch.",
     "2008000800" "31"),
    # Single digits joined by dashes, as the recognizer writes digits read out.
    ("Okay, it's 8-6-2, number 1-3, call after lunch.", "Okay, it's [PHONE], call after lunch.",
     "86213"),
    ("Okay, it's 4-9-5, 780, a rotate.", "Okay, it's [PHONE], a rotate.", "495780"),
    # Named as a phone number right after it.
    ("Okay, 577,068, that is my cell.", "Okay, [PHONE], that is my cell.", "577068"),
    # Somebody else's number announced; "my number" misheard is as sure a cue as the word.
    ("Call my wife on 726, if I don't pick up.", "Call my wife on [PHONE], if I don't pick up.",
     "726"),
    ("Let me give you my hunger, 426,", "Let me give you my hunger, [PHONE],", "426"),
    ("Sure, my home under the 713, I made it 2661.", "Sure, my home under the [PHONE].",
     "7132661"),
    # Cut off by the end of the transcript after a dash.
    ("Okay, it's 343-662-", "Okay, it's [PHONE]-", "343662"),
    ("Sure, right this town, 596-", "Sure, right this town, [PHONE]-", "596"),
    # A code-like run right before a phone number is its garbled head.
    ("You can call the M7-5-9 3-0-8, 2-8-8.", "You can call the [PHONE].", "759308288"),
    # "eight hundred" before digits is a toll-free prefix, not an amount.
    ("call one eight hundred five five five one two one two",
     "call [PHONE]", "18005551212"),
    # Groups said as hundreds with no money or year around stay digits.
    ("reach me at six hundred eighty three, seven hundred eighty three, six six eight two",
     "reach me at [PHONE]", "6837836682"),
    # ... and a group of four as "thousand" and "hundred": one digit before "thousand".
    ("Reach me at six hundred eighty three, seven hundred eighty three, six thousand six hundred "
     "eighty two", "Reach me at [PHONE]", "6837836682"),
    ("ninety seven three hundred seventy nine one thousand one hundred ninety one, that's my cell",
     "[PHONE], that's my cell", "973791191"),
    # "five" heard as "I" between digits read out one by one.
    ("I left it 2, I 2, 7, I 0, 6, I 4, 0.", "I left it [PHONE].", "2270640"),
    # Digits written as ordinals, one of them no ordinal ("3th").
    ("it is all done on 8th, 7th, 6th, 3th, 1th.", "it is all done on [PHONE]th.", "87631"),
]

ORDINARY_NUMBERS = [
    "It costs 3,000 and the battery is $9,500.",
    "We plan to add a battery in 2027.",
    "The panels come with a 25 year warranty.",
    "Can you come by at 3 pm on Thursday?",
    "Call me at 3 pm.",
    "Call me after 5, we have 2 kids.",
    "Our phone bill is about 120 a month.",
    "My number one concern is the price.",
    "The number of panels would be 24.",
    "Text me at 10:30 tomorrow.",
    "Give me a call at 1130 pm and bring 2500 dollars.",
    "The loan is 20 years at 5.99% and 2.9% after 2030.",
    "My cell phone is from 2019.",
    "We need 25 panels, 3 batteries and 7.2 kilowatts.",
    # Ranges and quantities with words that also stand for misheard digits ("to", "for", "or").
    "It was 15 to 20, then 30 to 45 later.",
    "I paid 45 for 20 and then 32 for 10.",
    "Is the electrical panel two hundred amps or one hundred?",
    "The 450 or 500 watt panel, 2 of them.",
    "We have 3 kids, 2 dogs, 1 cat and 14 chickens for 6 years.",
    "Model SE7600H with 2 batteries for 13.5 kWh.",
    "We need 24 panels for 2 roofs and 3 inverters to 1 meter.",
    "Our SKU is 4417 for the 2 pack.",
    "It takes 6 to 8 weeks for 3 to 4 crews.",
    "The number of customers is 1,250,000.",
    "The quote number is Q61-564.",
    "The world number is Q30-874.",  # "quote" misheard: the code's shape tells
    "Order part SE-7600-2 and 3 more, the 12th number is Q47-350.",
    "We sold 2 thousand 4 hundred units.",
    # A misheard cue needs four digits; a count of things after a cue is no phone number.
    "I did the roof myself, 300 shingles.",
    "Meet me at the 405 exit.",
    "My upper floor is 1200 square feet.",
    "My cell has 250 contacts.",
    "Let me write this down, 24 panels at 350 each.",
    # Dates and rates.
    "We can start on the 14th, 15th or 16th of June.",
    "The bill was 212 in May, 198 in June and 240 in July.",
    "Prices went from 2.49 to 2.89 per watt.",
    "We installed 2,437 systems and 1,219 batteries.",
    "It was 45,909 in 2019 and 52,586 in 2007.",
    "It costs 577,068, that is my price.",
    "2,500, that is my number one concern.",
    # Near misses of the cues and shapes above.
    "Call my office at 3 pm on Friday.",
    "Try our new panels on 2 roofs.",
    "Text my son at 4 tonight.",
    "My hunger for 2 more batteries is real.",
    "We need a 2-",
    "The price went up 12-",
    "The quote number is Q61-564, 3 panels.",
    "Order M7-5-9 and 3 of the SE-7600-2.",
    "On the 21st, 22nd, 23rd and 24th we are free.",
    "The 11th, 12th, 13th and 14th work.",
    "Let's be on April 23th, 3th and 3th.",
    # Amounts and years said as words: "hundred" before a ten or a teen.
    "It was fifty six thousand eight hundred sixty three and nineteen hundred eighty nine.",
    "We paid two hundred fifty, three hundred twelve and four hundred ninety nine.",
    # Three dashed digits alone, or counting something, are no read-out phone number.
    "As easy as 1-2-3, and 4 more.",
    "The 2-1-0 plan for 25 homes.",
    "We won 2-1-0 and 3 more games in 12 days.",
    # An amount read in two, money, years, counts: no mixed digit groups of a phone number.
    "It was not a 58,000, 911 in 1991.",
    "We sold 12,000, 500 of them last year.",
    "It costs 12,000, 450 more with the battery.",
    "In 2019, 12,000 homes and 2020, 15,000.",
    "About 1,200, 1,500 and 1,800 a month.",
    "The 2,500 300 watt panels.",
    # "I" between numbers that are no digits read out one by one.
    "Order 30, you get some of your 400 with 6, I, or 2.",
    "We had 3, I think 2, maybe 4.",
    "We paid 45,000 2,000 200 in fees.",
    # "thousand" after a ten, a teen or a hundred, or before a ten or a teen, or with money.
    "It was ten thousand three hundred sixty nine in two thousand twenty two.",
    "We sold forty nine thousand six hundred nineteen units.",
    "The house was three hundred six thousand five hundred seventy eight.",
    "We paid six thousand six hundred eighty two for the battery.",
    "In two thousand nineteen, two thousand twenty and two thousand twenty one.",
    "The options are two thousand five hundred, three thousand two hundred and four thousand.",
    "About five thousand, six thousand, seven thousand.",
]

GLUED_EMAILS = [
    ("janedoe at gmaildotcom", "[EMAIL]", "janedoe@gmail.com"),
    ("jane.doe at gmail dot com", "[EMAIL]", "jane.doe@gmail.com"),
    ("it's j doe at example.com.", "it's [EMAIL].", "jdoe@example.com"),
    ("jdoe@gmaildot com", "[EMAIL]", "jdoe@gmail.com"),
    ("Send it to Arun Patel at Gmail.com.", "Send it to [EMAIL].", "arunpatel@gmail.com"),
    ("email ops at blue harbor dotcom", "email [EMAIL]", "ops@blueharbor.com"),
    ("it is k o b r i e n at aol dot com", "it is [EMAIL]", "kobrien@aol.com"),
    ("Okay, sales at pinegrove.net", "Okay, [EMAIL]", "sales@pinegrove.net"),
    # "at" lost, everything glued into one domain: only after "email" or "address".
    ("My email is tomvegaoutlook.com", "My email is [EMAIL]", "tomvegaoutlook.com"),
    ("Email me at, uh, kimlee.yahoo.com", "Email me at, uh, [EMAIL]", "kimlee.yahoo.com"),
    # A mail provider's domain is somebody's address even with the "at" and the name lost.
    ("Send it over to that yahoo.com one.", "Send it over to that [EMAIL] one.", "yahoo.com"),
    ("it's kimleegmail dot com", "it's [EMAIL]", "kimleegmail.com"),
    ("Right to Ava and I Cloud.com, thanks.", "Right to [EMAIL], thanks.", "ava@icloud.com"),
    ("Sure, Nina Park at a.l.com.", "Sure, [EMAIL].", "ninapark@a.l.com"),
    # "at" heard as "and" before a written domain; "underscore" heard as "under score".
    ("and it is Alex and Northwind.io.", "and it is [EMAIL].", "alex@northwind.io"),
    ("Mail it to Tara under score Quinn at hotmail.com.", "Mail it to [EMAIL].",
     "tara_quinn@hotmail.com"),
    # "gmail" heard as "female" or "email", "dot com" as "not come" after a provider.
    ("Please copy the chairman of female.com on it.", "Please copy the chairman of [EMAIL] on it.",
     "female.com"),
    ("Mateo 7 and outlook not come, and I'll forward it.", "[EMAIL], and I'll forward it.",
     "mateo7@outlook.come"),
    # The "at" lost: a name's capital before two more labels, or two top-level domains.
    ("Send it to Ethan.res.com", "Send it to [EMAIL]", "ethan.res.com"),
    ("It's Lucas.prise.net.com", "It's [EMAIL]", "lucas.prise.net.com"),
    # A name of up to three words before a provider's domain, "at" heard as "and".
    ("Right to Patel 70 well and outlook.com, thanks.", "Right to [EMAIL], thanks.",
     "patel70well@outlook.com"),
    # A name and a domain after "write to" (heard "right to"); a domain after "underscore".
    ("Right to Riven Raynet, beproofing.net, thanks.", "Right to [EMAIL], thanks.",
     "rivenraynetbeproofing.net"),
    ("Sure, me underscore new units on Ryenergy.com.", "Sure, me underscore new units on [EMAIL].",
     "ryenergy.com"),
    # "the" heard between the "at" and a written domain, after a name.
    ("Sure, Chloe at the Avo.com.", "Sure, [EMAIL].", "chloe@avo.com"),
    ("please copy m-rocks at the proofing.net on that.", "please copy [EMAIL] on that.",
     "m-rocks@proofing.net"),
    # A name left a few words before the domain, after a cue of an address.
    ("Please copy Murphy for the 7 at email.com on it.", "Please copy [EMAIL] on it.",
     "murphyforthe7@email.com"),
    ("My e-mail is max.mor for that gmail.com", "My e-mail is [EMAIL]",
     "max.morforthat@gmail.com"),
    ("Send it to Ethan K. Madison then at www.com", "Send it to [EMAIL]",
     "ethank.madisonthen@www.com"),
    # A written domain a few garbled words after a cue of an address, in the same sentence.
    ("My work address is right on that greenfield.org.",
     "My work address is right on that [EMAIL].", "greenfield.org"),
    ("Email the quote to me and then we have to be beacon.net, please.",
     "Email the quote to me and then we have to be [EMAIL], please.", "beacon.net"),
    # ... also said with its "dot" heard as "not" or "that".
    ("Please copy the new solar energy not com on that.",
     "Please copy the new solar [EMAIL] on that.", "energy.com"),
    # A name, "at", up to three garbled words and a domain said with its "dot" misheard.
    ("Email the quote to Ryan Stone at the proof in that net, please.",
     "Email the quote to [EMAIL], please.", "ryanstone@theproofin.net"),
    ("Sure, it is Maya Lin at blue ridge not com.", "Sure, it is Maya [EMAIL].",
     "lin@blueridge.com"),
    # An address joined with dashes, its "at" among them.
    ("Sure, I'm a not-stone-at-greenfield.org.", "Sure, I'm a [EMAIL].",
     "not-stone-at-greenfield.org"),
    # A name right after a cue of an address, cut off by a comma, the rest garbled after it.
    ("Send it to turner 40, I would have to be groofing.net.", "Send it to [EMAIL].",
     "turner40@groofing.net"),
    ("My e-mail is Nora Vance, and that's live.com.", "My e-mail is [EMAIL].",
     "noravance@live.com"),
    ("My e-mail is Dana, the one with summit roofing.net.", "My e-mail is [EMAIL].",
     "dana@roofing.net"),
    # A written domain right after "be" or "have to": the address's "at" garbled into a verb.
    ("It's on the team, you have to be proofing.net.", "It's on the team, you have to be [EMAIL].",
     "proofing.net"),
    ("It's Cole 16, I had to look.com.", "It's Cole 16, I had to [EMAIL].", "look.com"),
    # A provider's address with its name and "at" heard as "and", after an earlier cue.
    ("It is right on the underscore Price and outlook.com.", "It is right on the [EMAIL].",
     "underscoreprice@outlook.com"),
]

NOT_EMAILS = [
    "We met at the expo dot com booth.",
    "Check us out at sunrun.com before you email me.",
    "I am at home, look at example dot com.",
    "See you at seven dot thirty.",
    "I will email you the link to our sunrun.com page.",
    "We compared Tesla and Sunrun.com prices.",
    "We use Outlook and Gmail at work.",
    "I use Outlook to come up with the plan.",
    "It has to be cheaper than sunrun.com.", "It will be Sunrun.com or Tesla.com.",
    "You have to go to sunrun.com.", "We have sunrun.com open.", "It has to be sunrun.com prices.",
    "I have to be at sunrun.com by ten.",
    "Our email is not coming through, not come on.",
    "Compare Amazon.co.uk with Sunrun.com.au, see www.Tesla.com too.",
    "The file is Report.final.pdf and the site is docs.acme.com.",
    "Send it to our website acme.com for the form.",
    "Right to the point, sunrun.com is cheaper.",
    "We said at 10 p.m., it costs 1,000.",  # no domain across a comma
    "Prices at the tesla.com store are lower.",  # "the" before a domain: only after a name
    "Our price at the sunrun.com store.",
    "We met them at the Sunrun.com booth.",
    # A domain after a cue of an address that names a site, or in another sentence.
    "Send it to me, I read about it on sunrun.com yesterday.",
    "Please copy our website acme.com into the form.",
    "Email me at home. I compared it with tesla.com too.",
    "Send it to the office, sunrun.com is cheaper.",
    "Email the quote to me, I saw the offer from sunrun.com.",
    "My email is down, check our site acme.com.",
    # "not com" or "that net" with no name and "at" before, or not ending a word.
    "We met at the expo, not com.",
    "Tell Sam at the office that networking is key.",
    "We met Ryan at the expo, that dot com booth.",
    "I am at home, not net.",
    "The internet is not complete.",
    "Read it on state-of-the-art.com, it is at-home-solar.net now.",
]


@pytest.mark.parametrize(("text", "expected", "digits"), GARBLED_PHONES)
def test_garbled_phone_numbers_are_replaced(text: str, expected: str, digits: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("phone", digits)]


@pytest.mark.parametrize("text", ORDINARY_NUMBERS)
def test_prices_years_quantities_and_times_are_kept(text: str) -> None:
    assert redact(text).findings == ()


@pytest.mark.parametrize(("text", "expected", "address"), GLUED_EMAILS)
def test_glued_spoken_email_addresses_are_replaced(text: str, expected: str, address: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("email", address)]


@pytest.mark.parametrize("text", NOT_EMAILS)
def test_at_and_dot_in_ordinary_speech_are_kept(text: str) -> None:
    assert redact(text).findings == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [  # no name taken across a comma, a sentence end or a new clause, nor to a written address
        ("Copy Sunrun on that, info@x.com", "Copy Sunrun on that, [EMAIL]"),
        ("Send it to Tom. I will check gmail.com", "Send it to Tom. I will check [EMAIL]"),
        ("Send it to Tom and I will check gmail.com", "Send it to Tom and I will check [EMAIL]"),
        ("Please copy the chairman of gmail.com.", "Please copy the chairman of [EMAIL]."),
        ("Copy Dana on jo@gmail.com", "Copy Dana on [EMAIL]"),
        ("Send it to the office, I use outlook.com", "Send it to the office, I use [EMAIL]"),
        ("Send it to Tom, then. I will check gmail.com",
         "Send it to Tom, then. I will check [EMAIL]"),
        ("Send it to Tom, Ann, Bo and me at x.com", "Send it to Tom, Ann, Bo and me at [EMAIL]"),
        ("The file has an underscore in it and outlook.com opens it.",
         "The file has an underscore in it and [EMAIL] opens it."),
    ],
)
def test_names_apart_from_an_address_are_kept(text: str, expected: str) -> None:
    assert redact(text).text == expected


# Short groups a few words from a phone number, also across a sentence end, are its pieces.
PIECES = [
    ("My normal is 608. I double 2, 2, 3, 1, 0.", "My normal is [PHONE]. I [PHONE].",
     ["608", "222310"]),
    ("My number is 415 772 9031. I said 55.", "My number is [PHONE]. I said [PHONE].",
     ["4157729031", "55"]),
    ("Ninety one, okay. 415 772 9031", "[PHONE], okay. [PHONE]", ["91", "4157729031"]),
]
NOT_PIECES = [  # what follows a phone number and must stay: "My number is 415 772 9031. ..."
    "Call 911 if it's urgent.", "We need 24 panels.", "The house is from 1998.",
    "It costs 3,000.", "It's 45 a month.", "Come at 10 pm.", "We want the X500 model.",
    "It has a 30 year warranty.", "The 2 of us are home.", "It's 15% off.", "On the 14th.",
    "See you at 10:30.", "I have 3 kids.", "Call after 10.",
    "We talked about the roof and 40 more.",
    "We live at 12 Oak Street.", "Give us 50 of them.", "Dial 411 for that.",
]


@pytest.mark.parametrize(("text", "expected", "numbers"), PIECES)
def test_short_groups_next_to_a_phone_number_are_its_pieces(
    text: str, expected: str, numbers: list[str]
) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("phone", n) for n in numbers]


@pytest.mark.parametrize("after", NOT_PIECES)
def test_numbers_of_their_own_after_a_phone_number_are_kept(after: str) -> None:
    result = redact(f"My number is 415 772 9031. {after}")
    assert result.text.startswith("My number is [PHONE]. ")
    assert [f.kind for f in result.findings if f.kind == "phone"] == ["phone"]
    assert result.text.endswith(after) or "[ADDRESS]" in result.text


# Five or more lone digits, outnumbering the words among them, are a number read out digit by
# digit with noise between (no cue needed).
SCATTERED = [
    ("It's 4, I think 1, 5, 7, 7, 2.", "It's [PHONE].", "415772"),
    ("So we did 8 to 3, I did 6, 0, 9 here.", "So we did [PHONE] here.", "83609"),
    ("Well 9, 8 and 1, 6, uh 0, 3 after lunch.", "Well [PHONE] after lunch.", "981603"),
]
NOT_SCATTERED = [
    "Steps 1, 2, 3, 4 and 5 are in the manual.", "Models 1, 3, 5, 7 and 9 are black.",
    "We have 3 kids, 2 cars and 4 acres.", "The 2 of us and our 3 kids, 1 dog and 2 cats.",
    "Between 2 and 3 weeks, maybe 4 or 5 days, 6 at most.",
    "Call 911, then 2 or 3 of us come by at 4.",
    "Pick 5 of the 9 options, or 6 of the 8, or 7 of 7.",
    "Houses 2, 4, 6, 8 and 10 on the street.",
    "A 30 year warranty, 25 on the panels, 10 on the inverter, 5 on labor.",
    "It was 2 in 2019, 3 in 2020, 4 in 2021 and 5 in 2022.",
    "We rate it 4 out of 5, they rate it 3 out of 5, so 7 out of 10.",
    "Meet on June 3, 4 or 5, at 1 or 2 pm.", "It costs $5, $6, $7, $8 or $9 a panel.",
    "We got 4, 5, 6, 8 and 9 percent quotes.", "Ratings of 4.5, 3.9 and 2.",
    "It's two thousand one hundred, five, six or seven.",
]


@pytest.mark.parametrize(("text", "expected", "digits"), SCATTERED)
def test_lone_digits_read_out_among_noise_are_a_phone_number(
    text: str, expected: str, digits: str
) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("phone", digits)]


@pytest.mark.parametrize("text", NOT_SCATTERED)
def test_lists_counts_and_decimals_of_small_numbers_are_kept(text: str) -> None:
    assert redact(text).findings == ()


# A mail provider's name misheard by a letter or two, its "dot" heard as another word.
MISHEARD_PROVIDERS = [
    ("Sure, Ava and hotmale not come.", "Sure, [EMAIL].", "ava@hotmail.com"),
    ("It's jo at gmall on the com.", "It's [EMAIL].", "jo@gmail.com"),
    ("Use Ben and outlook to come.", "Use [EMAIL].", "ben@outlook.com"),
    ("It's yahooo that com, thanks.", "It's [EMAIL], thanks.", "yahoo.com"),
]
NOT_MISHEARD_PROVIDERS = [
    "The outlook, come spring, is good.", "The market outlook to come is strong.",
    "Send me an email, come by later.", "Check your email on the net.", "Yahoo, come on!",
    "The loud not come.", "Please copy cloud to come.", "It is in the cloud, not come on.",
    "Tell Sam at the clouds to come.", "Our hotel on the coast is not come yet.",
]


@pytest.mark.parametrize(("text", "expected", "address"), MISHEARD_PROVIDERS)
def test_a_misheard_providers_address_is_replaced(text: str, expected: str, address: str) -> None:
    result = redact(text)
    assert result.text == expected
    assert [(f.kind, f.normalized) for f in result.findings] == [("email", address)]


@pytest.mark.parametrize("text", NOT_MISHEARD_PROVIDERS)
def test_words_near_a_providers_name_are_kept(text: str) -> None:
    assert redact(text).findings == ()


# --- properties of the garbled phone numbers --------------------------------------------------

CUES = ["my number is", "call me at", "my cell is", "text me at", "reach me at", "my mobile is",
        "the phone number is", "you can call me back on", "my cell phone, it's"]
# What noise makes of digits and fillers: none is a number, a unit or a word that ends a number.
GARBLE = ["time", "only", "of", "the", "I", "high", "or", "and", "it's", "we", "to", "a", "uh"]
SPOKEN_DIGIT = re.compile(r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b", re.I)


@st.composite
def garbled_phone_numbers(draw: st.DrawFn) -> tuple[str, str]:
    """Pieces of a phone number (3+ digits kept, written or spoken) among up to three garbled
    words each, and the digits kept."""
    groups = draw(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=4), min_size=1,
                           max_size=5).filter(lambda g: len("".join(g)) >= 3))
    parts: list[str] = []
    for group in groups:
        noise = draw(st.lists(st.sampled_from(GARBLE), max_size=3))
        spoken = draw(st.booleans())
        parts += noise + [" ".join(DIGIT_WORDS[int(d) + (d != "0")] for d in group)
                          if spoken else group]
    return draw(st.sampled_from([" ", ", "])).join(parts), "".join(groups)


@given(st.sampled_from(CUES), garbled_phone_numbers(), st.sampled_from(["", ".", ", thanks"]))
def test_no_digit_of_an_announced_phone_number_survives(
    cue: str, phone: tuple[str, str], end: str
) -> None:
    spoken, number = phone
    result = redact(f"{cue} {spoken}{end}")
    assert not re.search(r"[0-9]", result.text) and not SPOKEN_DIGIT.search(result.text)
    assert [f.normalized for f in result.findings] == [number]


ORDINARY = st.one_of(
    st.integers(1000, 99_999_999).map(lambda n: f"it costs {n:,}"),
    st.integers(1, 99_999).map(lambda n: f"a ${n} rebate"),
    st.integers(1900, 2099).map(lambda y: f"in {y}"),
    st.tuples(st.integers(1, 9999), st.sampled_from(["year warranty", "panels", "kilowatts",
                                                      "dollars", "percent", "months"]))
    .map(lambda q: f"{q[0]} {q[1]}"),
    st.tuples(st.integers(1, 12), st.sampled_from(["pm", "am", "o'clock", "p.m.", "a.m."]))
    .map(lambda t: f"at {t[0]} {t[1]}"),
    st.tuples(st.integers(1, 12), st.integers(0, 59)).map(lambda t: f"at {t[0]}:{t[1]:02d}"),
    st.integers(1, 99).map(lambda n: f"about {n} of them"),
)


@given(st.lists(ORDINARY, min_size=1, max_size=4), st.sampled_from([" and ", ", ", " then "]))
def test_prices_years_quantities_and_times_without_a_cue_are_kept(
    clauses: list[str], joint: str
) -> None:
    text = "We said " + joint.join(clauses) + "."
    assert redact(text).findings == ()


# --- through real speech: espeak-ng, sox noise, whisper.cpp and the pipeline -------------------

SPOKEN_PHONES = [
    ("You can reach me at six four seven, two zero one, eight eight three nine, thanks.",
     "6472018839"),
    ("Sure, text me at three six zero, five five two, four one seven seven.", "3605524177"),
]
NUMBER_WORD = re.compile(r"\b(?:zero|one|two|three|four|five|six|seven|eight|nine)\b", re.I)


def _noisy(speech: np.ndarray, snr_db: float, scratch: Path) -> np.ndarray:
    """``speech`` with repeatable sox pink noise ``snr_db`` below it."""
    path = scratch / "noise.wav"
    seconds = len(speech) / SAMPLE_RATE + 0.1
    subprocess.run(["sox", "-R", "-n", "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(path),
                    "synth", str(seconds), "pinknoise", "vol", "0.3"], check=True)
    noise = load_audio(path).samples[: len(speech)]
    gain = np.sqrt(np.mean(speech**2) / np.mean(noise**2)) * 10 ** (-snr_db / 20)
    return (speech + gain * noise).astype(np.float32)


@pytest.mark.slow
@pytest.mark.parametrize("snr_db", [None, 5.0], ids=["clean", "pink-noise-5dB"])
@pytest.mark.parametrize(("sentence", "number"), SPOKEN_PHONES)
def test_no_digit_of_a_spoken_phone_number_survives_the_pipeline(
    model_path: Path, tmp_path: Path, sentence: str, number: str, snr_db: float | None
) -> None:
    from gateway.speech.pipeline import SpeechPipeline
    from gateway.speech.whispercpp import WhisperCppEngine

    speech = load_audio(synthesize(sentence, tmp_path / "said.wav")).samples
    pad = np.zeros(SAMPLE_RATE // 2, np.float32)
    samples = np.concatenate([pad, speech, pad])
    if snr_db is not None:
        samples = _noisy(samples, snr_db, tmp_path)
    result = SpeechPipeline(WhisperCppEngine(model_path, threads=1)).process(Audio(samples))
    assert not re.search(r"[0-9]", result.text) and not NUMBER_WORD.search(result.text), result.text
    # Some of the number was heard and removed (else this test would prove nothing).
    assert "[PHONE]" in result.text
    assert any(f.normalized[:3] in number or f.normalized[-3:] in number
               for f in result.identifiers), result.identifiers


# --- what tiny.en really wrote for espeak-ng speech (tests/data/pii-asr.tsv, see bench/pii.py) ---

RECORDED = Path(__file__).parent / "data" / "pii-asr.tsv"


def recorded(split: str) -> list[dict[str, str]]:
    """Rows of the recorded transcripts in ``split`` (the held-out split is only measured)."""
    with RECORDED.open(newline="") as handle:
        return [r for r in csv.DictReader(handle, delimiter="\t") if r["split"] == split]


@pytest.mark.parametrize("row", recorded("dev"), ids=lambda r: f"{r['id']}-{r['condition']}")
def test_recorded_transcripts_are_redacted_as_expected(row: dict[str, str]) -> None:
    assert redact(row["heard"]).text == row["expected"]


TYPED = sorted({r["said"] for r in recorded("dev") if r["kind"] == "none"})


@pytest.mark.parametrize("said", TYPED, ids=str)
def test_typed_sentences_with_numbers_and_no_identifier_are_kept(said: str) -> None:
    assert redact(said).findings == ()


@pytest.mark.parametrize(
    "text",
    [
        "my cell is five five 2019 Oak Street five",  # an address between a cue and a number
        "email five five Oak Street x.com",
        "five at Oak Street number 2019 2019",  # the address stops before the phone number
        "jo@x.com12 five 2019",
        "Q12-Q12-Q12-$Q12-12 Oak Street Q12-",  # a code reaching into an address
    ],
)
def test_redaction_is_idempotent_around_other_identifiers(text: str) -> None:
    once = redact(text).text
    assert redact(once).text == once


# --- synthesized development rows (tests/data/pii-asr-synth.tsv, made by bench/pii_synth.py) ---

def synth_script() -> Any:
    return bench_script("pii_synth")


def synthesized(batch: int = 0) -> list[dict[str, str]]:
    """The rows of one batch, or of every batch there is (``batch`` 0; batch 1 must be)."""
    script = synth_script()
    paths = [script.output(batch)] if batch else [script.output(1), *sorted(
        p for p in script.DATA.glob("pii-asr-synth?*.tsv"))]
    rows: list[dict[str, str]] = []
    for path in paths:
        with path.open(newline="") as handle:
            rows += csv.DictReader(handle, delimiter="\t")
    return rows


@pytest.mark.parametrize(
    "said", sorted({r["said"] for r in synthesized() if r["kind"] == "none"}), ids=str
)
def test_synthesized_sentences_with_ordinary_numbers_are_kept(said: str) -> None:
    assert redact(said).findings == ()


@pytest.mark.parametrize(("batch", "sizes"), [(1, (60, 30, 60)), (2, (60, 30, 60)),
                                             (3, (60, 30, 60)), (4, (25, 12, 25)),
                                             (5, (25, 12, 25)), (6, (25, 12, 25)),
                                             (7, (25, 12, 25)), (8, (25, 12, 25)),
                                             (9, (16, 8, 18))])
def test_synthesized_rows_are_the_sentences_the_script_speaks(
    batch: int, sizes: tuple[int, int, int]
) -> None:
    made = {tuple(row) for row in synth_script().sentences(*sizes, batch)}
    rows = {(r["id"], r["kind"], r["said"], r["identifier"]) for r in synthesized(batch)}
    assert rows <= made  # a sentence never heard in any condition has no row
    assert len(rows) >= 0.95 * len(made)
    assert {r["split"] for r in synthesized(batch)} == {"synth"}
