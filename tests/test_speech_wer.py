"""The WER normaliser treats reference and hypothesis alike; the held-out speech data is there."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from gateway.speech.wer import corpus_wer, normalise, wer

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("thirty-one thousand four hundred dollars", "$31,400"),
        ("five point nine nine percent", "5.99%"),
        ("five five five, two one two, four three six eight", "555-212-4368"),
        ("about twenty-four hundred", "About 2,400."),
        ("three forty-nine a month", "349 a month"),
        ("call five five five, two one two", "Call 5, 5, 5, 2, 1, 2."),
        ("on sale for eighteen ninety-nine", "On sale for 1899"),
        ("one hundred eighty-nine dollars", "$189"),
        ("Is that alright?", "Is that all right?"),
        ("The kids are at school until three.", "the kids are at school until 3"),
    ],
)
def test_spoken_and_written_forms_normalise_alike(spoken: str, written: str) -> None:
    assert normalise(spoken) == normalise(written)
    assert wer(spoken, written) == 0.0


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("That's way more than we can afford.", "That is way more than we can afford."),
        ("We won't sign, we can't.", "We will not sign, we can not."),
        ("I'm gonna call you, I'll email.", "I am going to call you, I will email."),
        ("Let's talk, we're ready, you've seen it.", "Let us talk, we are ready, you have seen"
         " it."),
        ("Send me an e-mail.", "Send me an email."),
        ("It's thirty per cent off.", "It is 30% off."),
        ("The colour of the tyres", "the color of the tires"),
        ("OK, Mr Smith.", "Okay, mister Smith."),
        ("O.K., um, I think so.", "okay, I think so"),
        ("I\u2019d like that", "I would like that"),
    ],
)
def test_same_words_written_differently_are_no_errors(one: str, other: str) -> None:
    assert normalise(one) == normalise(other)
    assert wer(one, other) == 0.0


def test_different_words_stay_errors_after_expansion() -> None:
    assert wer("its warranty", "it's warranty") == 1.0  # "it is" for "its": 2 errors
    assert normalise("low-E glass") == ["low", "e", "glass"]
    assert normalise("e-mail") != normalise("mail")
    assert wer("we can sign", "we can't sign") == pytest.approx(1 / 3)


def test_numbers_that_differ_still_count_as_errors() -> None:
    assert normalise("two hundred ten") == ["210"]
    # 210 -> 200 and "dollars" inserted
    assert wer("two hundred ten a month", "$200 a month") == pytest.approx(2 / 3)
    assert normalise("twenty year loan") != normalise("20 euro loan")
    assert normalise("We have two. Three are left.") == ["we", "have", "2", "3", "are", "left"]


def test_wer_counts_substitutions_insertions_and_deletions() -> None:
    assert wer("do you offer financing", "do you offer the financing") == pytest.approx(1 / 4)
    assert wer("do you offer financing", "you offer fencing") == pytest.approx(2 / 4)
    assert wer("Where do I sign?", "") == 1.0


def test_corpus_wer_weighs_sentences_by_their_words() -> None:
    pairs = [("where do we sign", "where do we sign"), ("yes", "no")]
    assert corpus_wer(pairs) == pytest.approx(1 / 5)


@pytest.mark.parametrize(
    ("name", "columns", "rows"),
    [("asr-heldout.tsv", ["id", "text"], 40),
     ("conversation-heldout.tsv", ["speaker", "text", "pause_after_s"], 35)],
)
def test_held_out_speech_data_is_present(name: str, columns: list[str], rows: int) -> None:
    with (DATA / name).open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        assert reader.fieldnames == columns
        assert len([row for row in reader if row["text"].strip()]) == rows
