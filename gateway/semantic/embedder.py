"""Sentence embeddings on the device: the pinned MiniLM graph run by onnxruntime.

:class:`Embedder` is the adapter the semantic tagger receives as its ``embed`` callable: it
tokenizes with the model's own ``tokenizer.json`` (:mod:`gateway.semantic.wordpiece`), runs the
int8 ONNX graph and mean-pools the last hidden state over the tokens, then L2-normalises, as
sentence-transformers does for this model; a text's clauses are pooled from the same run
(:meth:`Embedder.with_parts`). onnxruntime is imported only here.

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
        return self.with_parts(texts, [()] * len(texts))[0]

    def with_parts(self, texts: Sequence[str], parts: Sequence[Sequence[str]],
                   window: int = 0) -> tuple[Vectors, list[Vectors]]:
        """Each text's unit vector, and its ``parts``' (pieces of it in order, its clauses):
        the states of a part's tokens from the text's own run, mean-pooled. A part reads in
        its sentence's context (mean cosine 0.80 with the part run alone, on the thirteenth
        paraphrase set; with the [CLS] and [SEP] states also pooled, 0.79) and costs no run
        of its own. With a ``window`` (tokens), a text's part vectors are followed by its
        windows': every run of that many tokens starting at each multiple of half of it, for
        a text longer than one window."""
        vectors = np.empty((len(texts), self.dimensions), dtype=np.float32)
        found: list[Vectors] = []
        for row, (text, own) in enumerate(zip(texts, parts, strict=True)):
            encoding, spans = self._tokenizer.encode_parts(text, own)
            states = self._states(encoding.ids)
            vectors[row] = unit(states.mean(axis=0))
            pooled = [unit(states[s.start:s.end].mean(axis=0)) if s.end > s.start
                      else self([part])[0] for part, s in zip(own, spans, strict=True)]
            pooled += [unit(states[1 + start:1 + start + window].mean(axis=0))
                       for start in windows(len(states) - 2, window)]
            found.append(np.array(pooled, dtype=np.float32).reshape(len(pooled),
                                                                     self.dimensions))
        return vectors, found

    def _states(self, ids: Sequence[int]) -> Vectors:
        """The last hidden state of each token of one text, shape (tokens, dimensions)."""
        batch = np.array([ids], dtype=np.int64)
        hidden = self._session.run(None, {"input_ids": batch,
                                          "attention_mask": np.ones_like(batch),
                                          "token_type_ids": np.zeros_like(batch)})[0]
        states: Vectors = np.asarray(hidden[0], dtype=np.float32)
        return states


def windows(tokens: int, window: int) -> range:
    """Where each window of ``window`` tokens starts in a text of ``tokens`` (every half
    window); none when the text is no longer than one window (or ``window`` is 0)."""
    if window <= 0 or tokens <= window:
        return range(0)
    return range(0, tokens - window + 1, max(window // 2, 1))


def unit(vector: Vectors) -> Vectors:
    """``vector`` scaled to unit length."""
    scaled: Vectors = (vector / max(float(np.linalg.norm(vector)), 1e-12)).astype(np.float32)
    return scaled
