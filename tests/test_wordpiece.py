"""The plain-Python WordPiece tokenizer gives the ``tokenizers`` package's ids, exactly."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.semantic import catalogue
from gateway.semantic.wordpiece import TokenizerFileError, WordPiece

ROOT = Path(__file__).resolve().parent.parent
DATA_FILES = [ROOT / "gateway/intel/data/tag-examples.tsv",
              *sorted((ROOT / "tests/data").glob("*.tsv"))]
MAX_TOKENS = catalogue.CATALOGUE["minilm"].max_tokens


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tokenizer") / catalogue.TOKENIZER_FILE
    path.write_bytes(catalogue.read_weights_file(catalogue.CATALOGUE["minilm"],
                                                 catalogue.TOKENIZER_FILE))
    return path


@pytest.fixture(scope="module")
def reference(tokenizer_file: Path) -> Any:
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
    tokenizer.enable_truncation(MAX_TOKENS)
    tokenizer.no_padding()
    return tokenizer


@pytest.fixture(scope="module")
def wordpiece(tokenizer_file: Path) -> WordPiece:
    return WordPiece.from_file(tokenizer_file, MAX_TOKENS)


def cells() -> list[str]:
    found = []
    for path in DATA_FILES:
        with path.open(newline="", encoding="utf-8") as handle:
            found += [cell for row in csv.reader(handle, delimiter="\t") for cell in row]
    return found


def test_every_sentence_of_the_data_files_gets_the_same_ids(
        reference: Any, wordpiece: WordPiece) -> None:
    texts = cells()
    assert len(texts) > 10_000
    differing = [t for t in texts if wordpiece.encode(t) != reference.encode(t).ids]
    assert differing == []


@pytest.mark.parametrize("text", [
    "Héllo WORLD! 你好吗", "keep [MASK] and x[CLS]y as they are", "İstanbul ﬁne naïve Ångström",
    "a\x00b\u200bc\tdef\u3000g\x85h", "x" * 150, "don't… “quotes” — ok, $5.00 & 50%",
    "word " * 300, "", "   ",
])
def test_edge_cases_get_the_same_ids(reference: Any, wordpiece: WordPiece, text: str) -> None:
    assert wordpiece.encode(text) == reference.encode(text).ids


# Latin, Greek, Cyrillic and their punctuation, general punctuation, CJK; the character tables of
# `tokenizers` predate Python 3.11's Unicode 14 for 503 rarer code points (signs and scripts
# added since Unicode 11), where the two differ.
ALPHABET = (st.characters(max_codepoint=0x05FF)
            | st.characters(min_codepoint=0x2000, max_codepoint=0x206F)
            | st.characters(min_codepoint=0x3000, max_codepoint=0x9FFF))


@settings(max_examples=400, deadline=None)
@given(text=st.text(ALPHABET, max_size=80))
def test_generated_unicode_text_gets_the_same_ids(
        reference: Any, wordpiece: WordPiece, text: str) -> None:
    assert wordpiece.encode(text) == reference.encode(text).ids


def test_a_file_of_another_kind_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "tokenizer.json"
    path.write_text('{"model": {"type": "BPE", "vocab": {}}, "normalizer": null}')
    with pytest.raises(TokenizerFileError, match="models install minilm"):
        WordPiece.from_file(path, MAX_TOKENS)
