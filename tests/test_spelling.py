"""The spelling head: hashed character n-grams, their sparse products, and what it learns."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from gateway.intel.softmax import train_softmax
from gateway.intel.spelling import WIDTH, SparseRows, ngrams, spelling_features, train_spelling


def dense(rows: SparseRows) -> np.ndarray:
    out = np.zeros(rows.shape, np.float32)
    for r in range(rows.shape[0]):
        span = slice(rows.starts[r], rows.starts[r + 1])
        out[r, rows.columns[span]] += rows.values[span]
    return out


@given(st.lists(st.text(max_size=40), max_size=8))
def test_the_sparse_products_are_the_dense_ones(texts: list[str]) -> None:
    rows = spelling_features(texts)
    matrix = dense(rows)
    rng = np.random.default_rng(len(texts))
    right = rng.normal(size=(WIDTH, 3)).astype(np.float32)
    left = rng.normal(size=(len(texts), 3)).astype(np.float32)
    np.testing.assert_allclose(rows @ right, matrix @ right, atol=1e-4)
    np.testing.assert_allclose(rows.T @ left, matrix.T @ left, atol=1e-5)


def test_a_text_is_read_by_its_letters_whatever_its_case_and_punctuation() -> None:
    assert ngrams("Loan?") == ngrams("  loan ") == [" lo", "loa", "oan", "an ", " loa", "loan",
                                                    "oan ", " loan", "loan "]
    rows = spelling_features(["A loan, please!", "a LOAN please", "", "?!"])
    matrix = dense(rows)
    np.testing.assert_array_equal(matrix[0], matrix[1])
    np.testing.assert_allclose(np.linalg.norm(matrix, axis=1), [1, 1, 0, 0], atol=1e-6)


def test_a_half_heard_word_keeps_its_class_by_the_letters_it_kept() -> None:
    texts = ["we need financing", "is there financing", "any financing offers",
             "nice weather today", "the dog is barking", "my kids play soccer"]
    labels = ["financing"] * 3 + ["none"] * 3
    head = train_spelling(texts, labels, ("financing", "none"))
    heard = head.probabilities(["do you do financin", "the kids are barking"])
    assert heard[0, 0] > 0.6 > heard[1, 0]


def test_sparse_and_dense_training_give_the_same_head() -> None:
    texts = ["we need financing", "nice weather today", "financing please", "hello there"]
    labels = ["financing", "none", "financing", "none"]
    rows = spelling_features(texts)
    sparse = train_softmax(rows, labels, ("financing", "none"), epochs=20)
    full = train_softmax(dense(rows), labels, ("financing", "none"), epochs=20)
    for got, expected in zip(sparse, full, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-5)
