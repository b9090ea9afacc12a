"""A plain numpy forward pass of a BERT sentence encoder from safetensors (test reference)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from gateway.semantic.bert_onnx import read_safetensors

__all__ = ["encode", "read_safetensors"]

Weights = dict[str, Any]
LAYER_NORM_EPS = 1e-12


def _norm(x: Any, w: Weights, prefix: str) -> Any:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LAYER_NORM_EPS) * w[prefix + ".weight"] + w[prefix + ".bias"]


def _dense(x: Any, w: Weights, prefix: str) -> Any:
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def _gelu(x: Any) -> Any:
    erf = np.vectorize(math.erf)
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def encode(ids: list[int], w: Weights, layers: int = 6, heads: int = 12) -> Any:
    """The mean-pooled, L2-normalised sentence vector of one token sequence."""
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][: len(ids)]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = _norm(x, w, "embeddings.LayerNorm")
    size = x.shape[1] // heads
    for n in range(layers):
        p = f"encoder.layer.{n}."
        q, k, v = (_dense(x, w, p + f"attention.self.{m}").reshape(len(ids), heads, size)
                   .transpose(1, 0, 2) for m in ("query", "key", "value"))
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        context = (scores / scores.sum(-1, keepdims=True)) @ v
        context = context.transpose(1, 0, 2).reshape(len(ids), -1)
        x = _norm(x + _dense(context, w, p + "attention.output.dense"), w,
                  p + "attention.output.LayerNorm")
        inner = _gelu(_dense(x, w, p + "intermediate.dense"))
        x = _norm(x + _dense(inner, w, p + "output.dense"), w, p + "output.LayerNorm")
    mean = x.mean(0)
    return mean / np.linalg.norm(mean)
