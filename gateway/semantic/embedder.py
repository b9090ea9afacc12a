"""Sentence embeddings on the device: the pinned MiniLM graph run by onnxruntime.

:class:`Embedder` is the adapter the semantic tagger receives as its ``embed`` callable: it
tokenizes with the model's own ``tokenizer.json`` (:mod:`gateway.semantic.wordpiece`), runs the
int8 ONNX graph and mean-pools the last hidden state over the real tokens, then L2-normalises, as
sentence-transformers does for this model. onnxruntime is imported only here.

Each text runs through the graph alone: dynamic int8 quantization scales a call's activations
by their range over the whole call, so a text batched with others (or padded to their length)
got another vector (cosine 0.985 with "Hi." beside it), and its tags depended on its neighbours.
One text a call costs 0.3-0.6 ms a sentence more than batches of eight did (validation set).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.semantic import wordpiece
from gateway.semantic.catalogue import DEFAULT, InstalledTextModel, resolve

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
#: How a text becomes its vector; a head trained on vectors made otherwise is trained again.
RECIPE = "one text a call, basic graph optimisations, mean-pooled, unit length"


class Embedder:
    """Embeds sentences into unit vectors; one onnxruntime session, loaded once."""

    def __init__(self, model: InstalledTextModel, threads: int = 1) -> None:
        import onnxruntime

        self.name = model.name
        self.dimensions = model.entry.dimensions
        self._tokenizer = wordpiece.load(model.tokenizer, model.entry.max_tokens)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # give activations back after each call
        # The extended fusions (of the int8 products) made a text 14 % slower here, and their
        # vectors are no nearer the float32 model's (mean cosine 0.9921 either way).
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self._session: Any = onnxruntime.InferenceSession(
            str(model.onnx), options, providers=["CPUExecutionProvider"])

    @classmethod
    def load(cls, models_dir: Path, name: str = DEFAULT, threads: int = 1) -> Embedder:
        """The installed, checked model (raises TextModelError when it is absent)."""
        return cls(resolve(models_dir, name), threads)

    def __call__(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text, shape (len(texts), dimensions); each text's own, whatever
        else is in ``texts``."""
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = self._one(text)
        return vectors

    def _one(self, text: str) -> Vectors:
        ids = np.array([self._tokenizer.encode(text).ids], dtype=np.int64)
        mask = np.ones_like(ids)
        hidden = self._session.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})[0]
        vector: Vectors = pool(np.asarray(hidden, dtype=np.float32), mask)[0]
        return vector


def pool(hidden: npt.NDArray[np.float32], mask: npt.NDArray[np.int64]) -> Vectors:
    """Mean of the token vectors over the mask, scaled to unit length."""
    weights = mask[..., None].astype(np.float32)
    mean = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
    norms = np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)
    unit: Vectors = (mean / norms).astype(np.float32)
    return unit
