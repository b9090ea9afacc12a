"""Spelling: a softmax over a text's hashed character n-grams, beside the embedding head.

Pure logic. The embedding model reads meaning; this head reads the letters, so a word the
recognizer half-heard ("financin'", "Anderson's" for "Andersen") still counts by the pieces
it kept, and a class's telling words count even where the embedding blurs them. Each text is
lower-cased, reduced to letters, digits and apostrophes, padded with a space, cut into its
n-grams of :data:`SIZES` letters, and each n-gram counted in one of :data:`WIDTH` columns by
its CRC-32 (the same on every machine); a row is scaled to unit length.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from gateway.intel.softmax import Vectors, softmax, train_softmax

WIDTH = 16384  # columns n-grams are hashed into
SIZES = (3, 4, 5)  # n-gram lengths, in characters
# The sparse head reaches the loss the semantic head's 400 steps of 20 would give it in half
# the steps at twice the rate (half the first start's training time).
EPOCHS = 200
LEARNING_RATE = 40.0
_NOT_KEPT = re.compile(r"[^a-z0-9' ]+")
_SPACES = re.compile(r"\s+")

Indices = npt.NDArray[np.int64]


@dataclass(frozen=True)
class SparseRows:
    """Rows of a sparse matrix, compressed by row: row ``r``'s entries are
    ``values[starts[r]:starts[r + 1]]`` in ``columns[...]`` of ``width``."""

    columns: Indices
    values: Vectors
    starts: Indices  # (rows + 1,)
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.starts) - 1, self.width

    @cached_property
    def T(self) -> _TransposedRows:  # noqa: N802 (numpy's name)
        """The transpose, for products (its entries sorted by column once)."""
        order = np.argsort(self.columns, kind="stable")
        columns = self.columns[order]
        rows = np.repeat(np.arange(len(self.starts) - 1), np.diff(self.starts))[order]
        runs = np.flatnonzero(np.r_[True, columns[1:] != columns[:-1]]) if len(columns) else (
            np.zeros(0, np.int64))
        return _TransposedRows(columns[runs], rows, self.values[order], runs, self.width)

    def __matmul__(self, dense: Vectors) -> Vectors:
        """This matrix times ``dense`` (width, k)."""
        products = dense[self.columns] * self.values[:, None]
        return _sum_runs(products, self.starts, len(self.starts) - 1)


@dataclass(frozen=True)
class _TransposedRows:
    """A :class:`SparseRows` transposed: its entries sorted by column, ``runs`` where each
    of the ``columns`` (those that have entries) starts."""

    columns: Indices
    rows: Indices
    values: Vectors
    runs: Indices
    width: int

    def __matmul__(self, dense: Vectors) -> Vectors:
        """The transpose times ``dense`` (rows, k)."""
        out = np.zeros((self.width, dense.shape[1]), np.float32)
        if len(self.runs):
            products = dense[self.rows] * self.values[:, None]
            out[self.columns] = np.add.reduceat(products, self.runs, axis=0)
        return out


def _sum_runs(products: Vectors, starts: Indices, count: int) -> Vectors:
    """The sums of ``products``' rows between consecutive ``starts`` (0 for an empty run)."""
    out = np.zeros((count, products.shape[1]), np.float32)
    filled = np.flatnonzero(np.diff(starts) > 0)
    if len(filled):
        out[filled] = np.add.reduceat(products, starts[filled], axis=0)
    return out


def _padded(text: str) -> bytes:
    """A text lower-cased, reduced to letters, digits, apostrophes and single spaces, with a
    space at each end (ASCII, so a byte is a character)."""
    kept = _SPACES.sub(" ", _NOT_KEPT.sub(" ", text.lower())).strip()
    return f" {kept} ".encode("ascii")


def ngrams(text: str) -> list[str]:
    """The character n-grams of a text (:func:`_padded`), shortest first."""
    padded = _padded(text).decode("ascii")
    return [padded[i:i + n] for n in SIZES for i in range(len(padded) - n + 1)]


def spelling_features(texts: Sequence[str]) -> SparseRows:
    """Each text's hashed n-gram counts, scaled to unit length."""
    hashes: list[int] = []
    lengths: list[int] = []
    for text in texts:
        padded = _padded(text)
        found = [zlib.crc32(padded[i:i + n]) for n in SIZES
                 for i in range(len(padded) - n + 1)]
        hashes += found
        lengths.append(len(found))
    rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    keys, counts = np.unique(rows * WIDTH + np.asarray(hashes, np.int64) % WIDTH,
                             return_counts=True)
    rows = keys // WIDTH
    norms = np.sqrt(np.bincount(rows, weights=counts.astype(np.float64) ** 2,
                                minlength=len(texts)))
    starts = np.zeros(len(texts) + 1, np.int64)
    starts[1:] = np.cumsum(np.bincount(rows, minlength=len(texts)))
    return SparseRows(keys % WIDTH, (counts / norms[rows]).astype(np.float32), starts, WIDTH)


@dataclass(frozen=True)
class SpellingHead:
    """p = softmax(x . w + b) over a text's spelling features ``x``."""

    weights: Vectors  # (WIDTH, classes)
    bias: Vectors  # (classes,)

    def probabilities(self, texts: Sequence[str]) -> Vectors:
        return softmax(spelling_features(texts) @ self.weights + self.bias)


def train_spelling(texts: Sequence[str], labels: Sequence[str], classes: Sequence[str],
                   example_weights: Sequence[float] | None = None) -> SpellingHead:
    """A spelling head fitted to labelled texts (as :func:`train_softmax` fits)."""
    return SpellingHead(*train_softmax(spelling_features(texts), labels, classes,
                                       example_weights, epochs=EPOCHS,
                                       learning_rate=LEARNING_RATE))
