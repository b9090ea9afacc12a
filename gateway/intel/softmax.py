"""A multinomial logistic (softmax) classifier trained by full-batch gradient descent.

Pure logic, shared by the semantic head (dense sentence embeddings) and the spelling head
(sparse hashed character n-grams): training starts from zero and is deterministic, each class
is weighted by the inverse of its count and each example by its own weight.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]

EPOCHS = 400
LEARNING_RATE = 20.0
L2 = 1e-5


class Features(Protocol):
    """Rows of features: a numpy matrix, or anything with its shape and the two products."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def T(self) -> Transposed: ...  # noqa: N802 (numpy's name)

    def __matmul__(self, other: Vectors) -> Vectors: ...


class Transposed(Protocol):
    """The transpose of :class:`Features`, only to be multiplied."""

    def __matmul__(self, other: Vectors) -> Vectors: ...


def softmax(logits: Vectors) -> Vectors:
    """Each row's softmax."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: Vectors = (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
    return probabilities


def one_hot(labels: Sequence[str], classes: Sequence[str]) -> Vectors:
    """A row per label with a 1 in its class's column."""
    index = {c: i for i, c in enumerate(classes)}
    targets = np.zeros((len(labels), len(classes)), dtype=np.float32)
    for row, label in enumerate(labels):
        targets[row, index[label]] = 1.0
    return targets


def train_softmax(features: Features, labels: Sequence[str], classes: Sequence[str],
                  example_weights: Sequence[float] | None = None, *,
                  epochs: int = EPOCHS, learning_rate: float = LEARNING_RATE, l2: float = L2,
                  ) -> tuple[Vectors, Vectors]:
    """The weights (features' width, classes) and bias (classes,) of p = softmax(x . w + b)
    fitted to ``labels`` in ``epochs`` steps of ``learning_rate`` (weight decay ``l2``), each
    class weighted by the inverse of its count and each example by its ``example_weights``
    (default 1)."""
    targets = one_hot(labels, classes)
    own = np.ones(len(labels), np.float32) if example_weights is None else np.asarray(
        example_weights, np.float32)
    counts = own @ targets  # each class's weight
    total = float(own.sum())
    sample = (own * (targets @ (total / (len(classes) * np.maximum(counts, 1e-6)))))[:, None]
    weights = np.zeros((features.shape[1], len(classes)), dtype=np.float32)
    bias = np.zeros(len(classes), dtype=np.float32)
    for _ in range(epochs):
        error = ((softmax(features @ weights + bias) - targets) * sample / total).astype(
            np.float32)
        weights -= learning_rate * (features.T @ error + l2 * weights)
        bias -= learning_rate * error.sum(axis=0)
    return weights.astype(np.float32), bias.astype(np.float32)
