"""The plain-Python WordPiece tokenizer gives the ids the ``tokenizers`` package (the reference,
a test-only dependency) gives for the installed model's own tokenizer.json: on every sentence
of the repository's text data and on generated text, odd characters included."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.intel.semantic import clauses
from gateway.semantic import wordpiece

ROOT = Path(__file__).parents[1]
DATA_FILES = [*sorted((ROOT / "tests/data").glob("*.tsv")),
              ROOT / "gateway/intel/data/tag-examples.tsv",
              ROOT.parent / "shared/data/dev-utterances.tsv"]
MAX_LENGTH = 128


@pytest.fixture(scope="module")
def tokenizer_file(text_models: Path) -> Path:
    return text_models / "minilm" / "tokenizer.json"


@pytest.fixture(scope="module")
def ours(tokenizer_file: Path) -> wordpiece.WordPiece:
    return wordpiece.load(tokenizer_file, MAX_LENGTH)


@pytest.fixture(scope="module")
def reference(tokenizer_file: Path) -> Any:
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_LENGTH)
    return tokenizer


def _sentences() -> list[str]:
    texts: list[str] = []
    for path in DATA_FILES:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.reader(handle, delimiter="\t"):
                texts.extend(cell for cell in row if " " in cell.strip())
    return texts


def test_same_ids_on_every_sentence_of_the_data(ours: wordpiece.WordPiece,
                                                reference: Any) -> None:
    texts = _sentences()
    assert len(texts) > 2000  # the data files are all there
    expected = [e.ids for e in reference.encode_batch(texts)]
    differ = [t for t, e in zip(texts, expected, strict=True) if list(ours.encode(t).ids) != e]
    assert differ == []


def test_the_parts_of_a_text_are_found_among_its_own_ids(ours: wordpiece.WordPiece) -> None:
    texts = [t for t in _sentences() if clauses(t)]
    assert len(texts) > 500
    for text in texts:
        parts = clauses(text)
        encoding, spans = ours.encode_parts(text, parts)
        assert encoding == ours.encode(text)
        for part, span in zip(parts, spans, strict=True):
            assert encoding.ids[span.start:span.end] == ours.encode(part).ids[1:-1]


def test_a_part_past_the_token_limit_gets_an_empty_span(ours: wordpiece.WordPiece) -> None:
    text = " ".join(["panels"] * 130) + ". My husband decides."
    encoding, spans = ours.encode_parts(text, ["panels panels", "My husband decides."])
    assert len(encoding.ids) == MAX_LENGTH
    assert spans[0] == wordpiece.Span(1, 3)
    assert spans[1].start == spans[1].end == MAX_LENGTH - 1


ODD = [
    "", "   ", "Héllo CAFÉ naïve façade", "İstanbul ΣΊΣΥΦΟΣ straße", "[PHONE] and [EMAIL].",
    "[CLS] a [SEP][MASK][UNK]x[PAD]", "tab\there\nnew\rline\x0bvt\x0cff\x85nel\u2028ls",
    "zero\x00width\u200bjoin\u200dsoft\u00adhyphen\ufffd", "中文字符和日本語のかな",
    "\U00020000\U0002b920\uf900\U0002f800 edge", "emoji 👍🏽 and ™ © ½ ∞",
    "a" * 150 + " ok", "don't-stop $1,299.99 (10%) @home #1 ~ish ^caret `tick` |pipe|",
    "¿Qué? ¡Sí! «quoted» „low“ —dash– …", " ".join(["word"] * 200),
]


@pytest.mark.parametrize("text", ODD)
def test_same_ids_on_odd_text(ours: wordpiece.WordPiece, reference: Any, text: str) -> None:
    assert list(ours.encode(text).ids) == reference.encode(text).ids


# The scripts a sales conversation here may hold: Latin, Greek, Cyrillic, Hebrew and the
# combining marks; punctuation, symbols and arrows; CJK, kana, Hangul; emoji. In some other
# scripts and punctuation of Unicode 12-14 (about 500 code points: Yezidi, Sogdian, Egyptian
# format controls, ...) the reference's older Unicode tables class a character otherwise.
REALISTIC = st.one_of(*(st.characters(min_codepoint=low, max_codepoint=high,
                                      exclude_categories=["Cs"])
                        for low, high in ((0x0000, 0x05FF), (0x1E00, 0x2DFF), (0x3000, 0x9FFF),
                                          (0xAC00, 0xD7A3), (0xF900, 0xFFFD),
                                          (0x1F000, 0x1FAFF), (0x20000, 0x2A6DF))))


@settings(max_examples=300, deadline=None)
@given(text=st.text(REALISTIC, max_size=80))
def test_same_ids_on_generated_text(ours: wordpiece.WordPiece, reference: Any,
                                    text: str) -> None:
    assert list(ours.encode(text).ids) == reference.encode(text).ids


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(max_codepoint=0x7F), max_size=80))
def test_same_ids_on_generated_ascii_text(ours: wordpiece.WordPiece, reference: Any,
                                          text: str) -> None:
    """ASCII text takes a shorter path (a table and a pattern) to the same ids."""
    assert list(ours.encode(text).ids) == reference.encode(text).ids


def test_a_tokenizer_of_another_kind_is_refused(tmp_path: Path, tokenizer_file: Path) -> None:
    spec = tokenizer_file.read_text(encoding="utf-8").replace('"BertPreTokenizer"',
                                                             '"ByteLevel"')
    other = tmp_path / "tokenizer.json"
    other.write_text(spec, encoding="utf-8")
    with pytest.raises(wordpiece.TokenizerFileError, match="not a lower-casing BERT"):
        wordpiece.load(other, MAX_LENGTH)
