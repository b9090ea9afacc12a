"""A plain numpy forward pass of a BERT sentence encoder from safetensors (test reference)."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np

Weights = dict[str, Any]
LAYER_NORM_EPS = 1e-12


def read_safetensors(data: bytes) -> Weights:
    """Every float32 tensor of a safetensors file (u64 header length, JSON header, raw data)."""
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + size])
    body = memoryview(data)[8 + size :]
    tensors: Weights = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return tensors


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
