"""Word error rate with one normaliser for reference and hypothesis alike.

Whisper writes "$31,400", "5.99%" and "555-212-4368" where a script says "thirty-one thousand
four hundred dollars", "five point nine nine percent" and "five five five, two one two ...".
Both sides are normalised the same way before words are compared: lower case, punctuation
and hyphens dropped, spelled-out numbers turned into digits, "$N" into "N dollars", "N%" into
"N percent", commas inside numbers removed, and numbers said or written in parts within a
sentence ("five five five, two one two", "555-212", "eighteen ninety-nine") joined into one
digit string.

Words that are the same but written differently are made alike first, as Whisper's own
``EnglishTextNormalizer`` does: contractions expanded ("that's" = "that is", "won't" = "will
not", "gonna" = "going to"), titles spelled out ("Mr" = "mister"), fillers ("um", "hmm")
dropped, British spellings made American (Whisper's own list, ``data/english-spellings.json``),
"per cent" = "percent". Beyond Whisper: "OK" = "okay", and a single letter hyphenated onto a
word is one word ("e-mail" = "email").
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from gateway.intel.distance import edit_distance

_UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000}
_SPELLING = {"alright": "all right", "ok": "okay", "oh": "zero"}
_FILLERS = re.compile(r"\b(?:hmm|mm|mhm|mmm|uh|um)\b")
_REPLACERS = [(re.compile(pattern), replacement) for pattern, replacement in {
    # Whisper's EnglishTextNormalizer, in its order: common contractions, titles, then the
    # general contractions
    r"\bwon't\b": "will not", r"\bcan't\b": "can not", r"\blet's\b": "let us",
    r"\bain't\b": "aint", r"\by'all\b": "you all", r"\bwanna\b": "want to",
    r"\bkinda\b": "kind of", r"\bsorta\b": "sort of", r"\bdunno\b": "do not know",
    r"\bgotta\b": "got to", r"\bgonna\b": "going to", r"\bi'ma\b": "i am going to",
    r"\bimma\b": "i am going to", r"\bwoulda\b": "would have", r"\bcoulda\b": "could have",
    r"\bshoulda\b": "should have", r"\bcause\b": "because", r"\bma'am\b": "madam",
    r"\bmr\b": "mister ", r"\bmrs\b": "missus ", r"\bst\b": "saint ", r"\bdr\b": "doctor ",
    r"\bprof\b": "professor ", r"\bcapt\b": "captain ", r"\bgov\b": "governor ",
    r"\bald\b": "alderman ", r"\bgen\b": "general ", r"\bsen\b": "senator ",
    r"\brep\b": "representative ", r"\bpres\b": "president ", r"\brev\b": "reverend ",
    r"\bhon\b": "honorable ", r"\basst\b": "assistant ", r"\bassoc\b": "associate ",
    r"\blt\b": "lieutenant ", r"\bcol\b": "colonel ", r"\bjr\b": "junior ",
    r"\bsr\b": "senior ", r"\besq\b": "esquire ",
    r"'d been\b": " had been", r"'s been\b": " has been", r"'d gone\b": " had gone",
    r"'s gone\b": " has gone", r"'d done\b": " had done", r"'s got\b": " has got",
    r"n't\b": " not", r"'re\b": " are", r"'s\b": " is", r"'d\b": " would",
    r"'ll\b": " will", r"'t\b": " not", r"'ve\b": " have", r"'m\b": " am",
    # beyond Whisper's: the same words written apart or with stops
    r"\bper cent\b": "percent", r"\bo\.k\.": "okay",
}.items()]
_LETTER_PREFIX = re.compile(r"\b([a-z])-(?=[a-z]{2})")  # "e-mail", "x-ray": one word
_TOKEN = re.compile(r"\$?\d[\d,]*(?:\.\d+)?%?|[a-z']+|[,.?!;:]")
_PUNCTUATION = ",.?!;:"
_COMMA, _SENTENCE_END = ",", "."  # punctuation ends a spelled number, then is dropped


@cache
def _american() -> dict[str, str]:
    """Whisper's British-to-American spelling list."""
    path = Path(__file__).parent / "data" / "english-spellings.json"
    mapping: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return mapping


def _same_words_alike(text: str) -> str:
    """Lower-case ``text`` with its contractions, titles, fillers and letter prefixes written
    one way (see the module's docstring)."""
    text = _FILLERS.sub("", text.lower().replace("\u2019", "'"))
    text = re.sub(r"\s+'", "'", text)
    for pattern, replacement in _REPLACERS:
        text = pattern.sub(replacement, text)
    return _LETTER_PREFIX.sub(r"\1", text).replace("-", " ")


def _tokens(text: str) -> list[str]:
    text = _same_words_alike(text)
    out: list[str] = []
    for token in _TOKEN.findall(text):
        token = token.strip("'")
        if not token:
            continue
        if token in _PUNCTUATION:
            out.append(_COMMA if token == _COMMA else _SENTENCE_END)
            continue
        if token[0] == "$" or token[0].isdigit():
            number = token.lstrip("$").rstrip("%").replace(",", "")
            out.append(number)
            if token.startswith("$"):
                out.append("dollars")
            if token.endswith("%"):
                out.append("percent")
        else:
            token = _american().get(token, token)
            out.extend(_SPELLING.get(token, token).split())
    return out


def _join_numbers(tokens: list[str]) -> list[str]:
    """Spelled-out numbers as digits ("twenty four hundred" -> "2400", "five point nine nine"
    -> "5.99"); then numbers said or written in parts ("five five five, two one two",
    "555-212", "eighteen ninety-nine", "5, 5, 5") joined into one digit string."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        if tokens[i] not in _UNITS and tokens[i] not in _TENS:
            out.append(tokens[i])
            i += 1
            continue
        number, i = _spelled_number(tokens, i)
        out.append(number)
    joined: list[str] = []
    for token in out:
        if joined and token.isdigit() and joined[-1].isdigit():
            joined[-1] += token
        elif token != _COMMA:  # a sentence end stops the joining until it is dropped
            joined.append(token)
    return [t for t in joined if t != _SENTENCE_END]


def _spelled_number(tokens: list[str], i: int) -> tuple[str, int]:
    """The number spelled out from ``tokens[i]`` on, as digits, and the index after it."""
    total, current, last = 0, 0, ""
    while i < len(tokens):
        word = tokens[i]
        if word in _UNITS:
            value = _UNITS[word]
            if last in ("unit", "teen") or (last == "tens" and value >= 10):
                break
            current += value
            last = "unit" if value < 10 else "teen"
        elif word in _TENS:
            if last in ("unit", "teen", "tens"):
                break
            current += _TENS[word]
            last = "tens"
        elif word in _SCALES and last:
            scale = _SCALES[word]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total, current = total + max(current, 1) * scale, 0
            last = "scale"
        else:
            break
        i += 1
    number = str(total + current)
    if i + 1 < len(tokens) and tokens[i] == "point" and tokens[i + 1] in _UNITS:
        digits = ""
        i += 1
        while i < len(tokens) and tokens[i] in _UNITS and _UNITS[tokens[i]] < 10:
            digits += str(_UNITS[tokens[i]])
            i += 1
        number += "." + digits
    return number, i


def normalise(text: str) -> list[str]:
    """The words of ``text`` as compared for WER."""
    return _join_numbers(_tokens(text))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of one hypothesis against its reference."""
    ref = normalise(reference)
    return edit_distance(ref, normalise(hypothesis)) / max(1, len(ref))


def corpus_wer(pairs: list[tuple[str, str]]) -> float:
    """Word errors over all (reference, hypothesis) pairs divided by all reference words."""
    errors = words = 0
    for reference, hypothesis in pairs:
        ref = normalise(reference)
        errors += edit_distance(ref, normalise(hypothesis))
        words += len(ref)
    return errors / max(1, words)
