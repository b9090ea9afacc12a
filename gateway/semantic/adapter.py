"""The sales adapter: MiniLM tuned to the taxonomy, kept as a small file of its changes.

The frozen all-MiniLM-L6-v2 places sentences by general meaning; tuned on the tagger's own
labelled examples it places sentences that do the same thing in a sale nearer each other, so a
new paraphrase lands among its tag's examples more often. The tuning is kept as changes to the
encoder layers' weights (see ``scripts/train_adapter.py``, which makes the file):

- each weight matrix ``W`` of the six layers changes by a low-rank product,
  ``W + (b @ a) * scale``, with ``a`` (rank x inputs) and ``b`` (outputs x rank) stored as
  int16 and one float ``scale`` per matrix;
- each bias and layer-norm vector of those layers is stored whole (float32) and replaces
  the original.

``models install minilm`` merges the adapter into the pinned float32 weights before the graph is
built and quantized, so the tagger runs the same graph, at the same speed and memory, as
without it. The merge is integer arithmetic (an int64 product, exact) followed by element-wise
float64 operations, so it gives the same bytes on every CPU and the built graph keeps one pin.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

Weights = dict[str, np.ndarray[Any, Any]]

LOW_RANK = (".lora_a", ".lora_b", ".lora_scale")
LAYER_PREFIX = "encoder.layer."


class AdapterError(ValueError):
    """An adapter file does not fit the weights it is merged into."""


def read(data: bytes) -> Weights:
    """The arrays of an adapter file (an ``.npz``), by name."""
    with np.load(io.BytesIO(data), allow_pickle=False) as saved:
        return {name: saved[name] for name in saved.files}


def merge(weights: Weights, adapter: Weights) -> Weights:
    """``weights`` with the adapter's changes applied (a new dict; the input is not
    changed): low-rank updates of the named matrices, replaced vectors."""
    merged = dict(weights)
    for name, value in adapter.items():
        if name.endswith(LOW_RANK[0]):
            target = name[: -len(LOW_RANK[0])]
            merged[target] = _low_rank(target, weights, adapter)
        elif not name.endswith(LOW_RANK[1:]):
            merged[name] = _vector(name, weights, value)
    return merged


def _low_rank(target: str, weights: Weights, adapter: Weights) -> np.ndarray[Any, Any]:
    original = _original(target, weights)
    try:
        a, b = adapter[target + LOW_RANK[0]], adapter[target + LOW_RANK[1]]
        scale = float(adapter[target + LOW_RANK[2]])
    except KeyError as exc:
        raise AdapterError(f"the adapter's change of {target} lacks {exc.args[0]}") from exc
    if a.dtype != np.int16 or b.dtype != np.int16:
        raise AdapterError(f"the adapter's factors of {target} are not int16")
    if b.shape[1] != a.shape[0] or (b.shape[0], a.shape[1]) != original.shape:
        raise AdapterError(f"the adapter's change of {target} has shape "
                           f"{(b.shape[0], a.shape[1])}, the weights {original.shape}")
    product = b.astype(np.int64) @ a.astype(np.int64)  # exact: integers
    changed = original.astype(np.float64) + product.astype(np.float64) * scale
    return changed.astype(np.float32)


def _vector(name: str, weights: Weights, value: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    original = _original(name, weights)
    if value.shape != original.shape or original.ndim != 1:
        raise AdapterError(f"the adapter's {name} has shape {value.shape}, the weights "
                           f"{original.shape}")
    return np.asarray(value, dtype=np.float32)


def _original(name: str, weights: Weights) -> np.ndarray[Any, Any]:
    if not name.startswith(LAYER_PREFIX) or name not in weights:
        raise AdapterError(f"the adapter changes {name}, which is not an encoder layer's weight")
    return weights[name]


__all__ = ["AdapterError", "Weights", "merge", "read"]
