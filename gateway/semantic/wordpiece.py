"""BERT's WordPiece tokenizer, read from a model's ``tokenizer.json``, in plain Python.

It gives the ids the ``tokenizers`` package gives for the files BERT-style sentence models ship
(``BertNormalizer`` with lower-casing, ``BertPreTokenizer``, ``WordPiece``, ``[CLS] $A [SEP]``),
without mapping that package's 5 MB library and its heap into the service (~10 MB PSS measured).
Python's Unicode tables are newer than the reference's: about 500 code points of Unicode 12-14
(Yezidi, Sogdian, Egyptian format controls, some punctuation) are classed otherwise.
Pure logic: :func:`load` reads the file, the rest works on strings.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

CONTINUATION = "##"
# The CJK ideograph blocks BertNormalizer spaces apart (a word each).
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))
_ASCII_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# ASCII text (nearly all of it) takes a table and a pattern instead of a char-by-char walk:
# the whitespace controls become spaces, the other controls go, every mark is a word.
_ASCII_NORMAL = {**{code: None for code in (*range(0x20), 0x7F)},
                 **{ord(char): " " for char in "\t\n\r"}}
_ASCII_WORDS = re.compile(r"[^\s!-/:-@\[-`{-~]+|[!-/:-@\[-`{-~]")
_WHITESPACE = frozenset("\t\n\r\x0b\x0c \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
                        "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class TokenizerFileError(ValueError):
    """The tokenizer.json is not the BERT WordPiece kind this module reads."""


@dataclass(frozen=True, slots=True)
class Span:
    """Tokens ``start`` up to (not including) ``end`` of an encoding."""

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Encoding:
    """One text's token ids, [CLS] and [SEP] included."""

    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class WordPiece:
    """A lower-casing BERT WordPiece tokenizer; ``max_length`` counts [CLS] and [SEP]."""

    vocab: Mapping[str, int]
    special: Mapping[str, int]  # tokens matched in the raw text, before normalisation
    unknown: str = "[UNK]"
    max_word_chars: int = 100
    max_length: int = 128

    def encode(self, text: str) -> Encoding:
        """The ids of ``text`` as one sequence, truncated to ``max_length``."""
        return self._wrap(self._body(text))

    def encode_parts(self, text: str, parts: Sequence[str]) -> tuple[Encoding, list[Span]]:
        """The ids of ``text`` (as :meth:`encode` gives them) and where the tokens of each of
        its ``parts`` lie in them (``parts``: pieces of ``text`` in order, each beginning and
        ending at a word's edge; a part cut off by the truncation gets an empty span)."""
        body: list[int] = []
        starts: list[int] = []
        at = 0
        for part in parts:
            found = text.index(part, at)
            body += self._body(text[at:found])
            starts.append(len(body))
            body += self._body(part)
            at = found + len(part)
            starts.append(len(body))
        body += self._body(text[at:])
        kept = self._room()
        spans = [Span(1 + min(a, kept), 1 + min(b, kept))
                 for a, b in zip(starts[::2], starts[1::2], strict=True)]
        return self._wrap(body), spans

    def _body(self, text: str) -> list[int]:
        ids: list[int] = []
        for piece, is_special in _split_special(text, self.special):
            if is_special:
                ids.append(self.special[piece])
                continue
            words = (_ASCII_WORDS.findall(piece.translate(_ASCII_NORMAL).lower())
                     if piece.isascii() else pre_tokenize(normalize(piece)))
            for word in words:
                ids.extend(self._word_ids(word))
        return ids

    def _room(self) -> int:
        """How many tokens besides [CLS] and [SEP] a sequence keeps."""
        return max(self.max_length - 2, 0)

    def _wrap(self, body: list[int]) -> Encoding:
        return Encoding((self.special["[CLS]"], *body[: self._room()], self.special["[SEP]"]))

    def _word_ids(self, word: str) -> list[int]:
        if len(word) > self.max_word_chars:
            return [self.vocab[self.unknown]]
        ids: list[int] = []
        start = 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else CONTINUATION + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    start = end
                    break
            else:
                return [self.vocab[self.unknown]]
        return ids


def load(path: Path, max_length: int) -> WordPiece:
    """The tokenizer a model's ``tokenizer.json`` describes (raises TokenizerFileError when it is
    not a lower-casing BERT WordPiece one)."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    model, normalizer = spec.get("model") or {}, spec.get("normalizer") or {}
    if (model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer"
            or not normalizer.get("lowercase") or normalizer.get("strip_accents") is False
            or (spec.get("pre_tokenizer") or {}).get("type") != "BertPreTokenizer"
            or model.get("continuing_subword_prefix", CONTINUATION) != CONTINUATION):
        raise TokenizerFileError(f"{path}: not a lower-casing BERT WordPiece tokenizer")
    special = {t["content"]: int(t["id"]) for t in spec.get("added_tokens", [])
               if t.get("special") and not t.get("normalized", True)}
    if not {"[CLS]", "[SEP]"} <= special.keys():
        raise TokenizerFileError(f"{path}: no [CLS] and [SEP] tokens")
    return WordPiece(vocab=model["vocab"], special=special, unknown=model["unk_token"],
                     max_word_chars=int(model.get("max_input_chars_per_word", 100)),
                     max_length=max_length)


def normalize(text: str) -> str:
    """BertNormalizer: controls dropped, whitespace made spaces, CJK ideographs spaced apart,
    accents stripped, lower-cased (char by char, as the reference does)."""
    out: list[str] = []
    for char in text:
        if char in "\x00\ufffd" or (char not in "\t\n\r" and _is_other(char)):
            continue
        if char in _WHITESPACE:
            out.append(" ")
        elif _is_cjk(char):
            out.append(f" {char} ")
        else:
            out.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(out))
    return "".join(c.lower() for c in decomposed if unicodedata.category(c) != "Mn")


def pre_tokenize(text: str) -> list[str]:
    """BertPreTokenizer: words split on whitespace, each punctuation mark a word of its own."""
    words: list[str] = []
    for chunk in text.split():
        word: list[str] = []
        for char in chunk:
            if char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P"):
                if word:
                    words.append("".join(word))
                    word = []
                words.append(char)
            else:
                word.append(char)
        if word:
            words.append("".join(word))
    return words


def _split_special(text: str, special: Mapping[str, int]) -> list[tuple[str, bool]]:
    """``text`` cut around the special tokens written in it, leftmost and longest first."""
    pieces: list[tuple[str, bool]] = []
    plain = 0
    for match in _special_pattern(tuple(special)).finditer(text):
        if plain < match.start():
            pieces.append((text[plain : match.start()], False))
        pieces.append((match.group(), True))
        plain = match.end()
    if plain < len(text):
        pieces.append((text[plain:], False))
    return pieces


@lru_cache(maxsize=4)
def _special_pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    """The special tokens, longest first, so a match at a place is the longest there."""
    return re.compile("|".join(re.escape(t) for t in sorted(tokens, key=len, reverse=True)))


def _is_other(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK)
