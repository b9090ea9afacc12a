"""BERT's WordPiece tokenizer in plain Python, read from the model's own ``tokenizer.json``.

It gives the same ids as the ``tokenizers`` package for the MiniLM model (a test compares them
on the repository's sentences and on generated text), without mapping that package's 5 MB
library and its copy of the vocabulary into the service. Steps, as ``tokenizers`` does them:
special tokens are matched on the raw text; the rest is cleaned (control characters dropped,
whitespace made a space), CJK ideographs spaced out, accents stripped, lower-cased; split on
whitespace and around punctuation; each word matched greedily, longest piece first, with
``##`` continuations (a word that cannot be matched, or is too long, is ``[UNK]``); then
``[CLS] ... [SEP]``, cut to the model's length.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

# Unicode's White_Space property (Rust's char::is_whitespace), not Python's str.isspace.
_WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000")
_CJK = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F), (0x2B920, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


class TokenizerFileError(ValueError):
    """The tokenizer.json is not a BERT WordPiece tokenizer this module can follow."""


class WordPiece:
    """Encodes text as the model's token ids."""

    def __init__(self, vocab: dict[str, int], specials: Sequence[str], max_length: int,
                 unk: str = "[UNK]", prefix: str = "##", max_word_chars: int = 100) -> None:
        self._vocab = vocab
        self._unk_id = vocab[unk]
        self._cls_id, self._sep_id = vocab["[CLS]"], vocab["[SEP]"]
        self._prefix = prefix
        self._max_word_chars = max_word_chars
        self.max_length = max_length
        ordered = sorted(specials, key=len, reverse=True)
        self._specials = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_file(cls, path: Path, max_length: int) -> WordPiece:
        """The tokenizer described by a ``tokenizer.json`` (BERT normaliser, WordPiece model)."""
        spec = json.loads(path.read_text(encoding="utf-8"))
        model, normalizer = spec.get("model", {}), spec.get("normalizer") or {}
        if model.get("type") != "WordPiece" or normalizer.get("type") != "BertNormalizer" \
                or not normalizer.get("lowercase") or normalizer.get("strip_accents") is False:
            raise TokenizerFileError(
                f"{path} is not a lower-casing BERT WordPiece tokenizer; reinstall the text "
                "model with `salestag-gateway models install minilm`")
        specials = [t["content"] for t in spec.get("added_tokens", []) if t.get("special")]
        return cls(model["vocab"], specials, max_length, model.get("unk_token", "[UNK]"),
                   model.get("continuing_subword_prefix", "##"),
                   model.get("max_input_chars_per_word", 100))

    def encode(self, text: str) -> list[int]:
        """``[CLS]``, the text's pieces cut to fit ``max_length``, ``[SEP]`` (no padding)."""
        ids = self._pieces(text)[: max(self.max_length - 2, 0)]
        return [self._cls_id, *ids, self._sep_id]

    def _pieces(self, text: str) -> list[int]:
        ids: list[int] = []
        start = 0
        for match in self._specials.finditer(text) if self._specials else ():
            ids += self._plain(text[start : match.start()])
            ids.append(self._vocab[match.group()])
            start = match.end()
        return ids + self._plain(text[start:])

    def _plain(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in pre_tokenize(normalize(text)):
            ids += self._word(word)
        return ids

    def _word(self, word: str) -> list[int]:
        if len(word) > self._max_word_chars:
            return [self._unk_id]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self._prefix + word[start:end]
                if piece in self._vocab:
                    ids.append(self._vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self._unk_id]
            start = end
        return ids


def normalize(text: str) -> str:
    """BERT's normaliser: clean, space out CJK, strip accents, lower-case."""
    out = []
    for char in text:
        if char in ("\0", "\ufffd") or _is_control(char):
            continue
        if char in _WHITESPACE:
            out.append(" ")
        elif _is_cjk(char):
            out.append(f" {char} ")
        else:
            out.append(char)
    decomposed = unicodedata.normalize("NFD", "".join(out))
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()


def pre_tokenize(text: str) -> list[str]:
    """Words split on whitespace, each punctuation character a word of its own."""
    words: list[str] = []
    for chunk in text.split(" "):
        current = ""
        for char in chunk:
            if char in _WHITESPACE:
                words += [current] if current else []
                current = ""
            elif _is_punctuation(char):
                words += [current, char] if current else [char]
                current = ""
            else:
                current += char
        if current:
            words.append(current)
    return words


def _is_control(char: str) -> bool:
    return char not in "\t\n\r" and unicodedata.category(char) in ("Cc", "Cf", "Co", "Cs")


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK)


def _is_punctuation(char: str) -> bool:
    return (char.isascii() and not char.isalnum() and 0x21 <= ord(char) <= 0x7E) \
        or unicodedata.category(char).startswith("P")
