"""The leak counter of bench/pii.py: it counts what survives of the phone number that was
spoken, neither more (a number the sentence itself holds) nor less."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import bench_script

SAID = "My mobile is four one five, seven seven two, one two three four, that's the best one."


def bench() -> Any:
    return bench_script("pii")


def leaks(redacted: str, said: str = SAID) -> list[str]:
    script = bench()
    return list(script.surviving(redacted, "phone", script.pieces("4157721234", "phone"), said))


def test_the_sentences_own_number_after_a_hidden_phone_number_is_no_leak() -> None:
    assert leaks("My mobile is [PHONE], that's the best one.") == []
    assert leaks("My mobile is [PHONE]. That's the best 1.") == []


@pytest.mark.parametrize(("redacted", "left"), [
    ("My mobile is 415 [PHONE], that's the best one.", ["415"]),
    ("My mobile is [PHONE] one, that's the best one.", ["1"]),
    ("My mobile is [PHONE], that's the one.", ["1"]),  # not after the word said before it
    ("My mobile is [PHONE], that's the 1th, 2.", ["1", "2"]),
    ("My mobile is four [PHONE], the best one.", ["4"]),
])  # fmt: skip
def test_every_other_surviving_digit_of_the_phone_number_is_a_leak(
    redacted: str, left: list[str]
) -> None:
    assert leaks(redacted) == left


def test_a_number_the_sentence_does_not_hold_is_a_leak_wherever_it_stands() -> None:
    said = "My number is four one five, seven seven two, one two three four."
    assert leaks("My number is [PHONE], that's the best one.", said) == ["1"]
