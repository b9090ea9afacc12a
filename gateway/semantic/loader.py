"""Loads the semantic tagger a config asks for, or says why the rules run alone."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gateway.files import TEMP_SUFFIX, atomic_path
from gateway.intel.semantic import (
    Example,
    Head,
    SemanticTagger,
    builtin_examples,
    each_builtin_example,
    fit,
    training_key,
)
from gateway.intel.spelling import SpellingHead
from gateway.semantic.catalogue import CATALOGUE, DEFAULT, TextModelError

if TYPE_CHECKING:
    from gateway.semantic.embedder import Embedder

log = logging.getLogger(__name__)

SEMANTIC = "semantic"
RULES = "rules"


def tagger_name(tagger: SemanticTagger | None) -> str:
    """What tagged a transcript: ``semantic`` or ``rules``."""
    return SEMANTIC if tagger is not None else RULES


@lru_cache(maxsize=4)
def load_tagger(models_dir: Path, engine: str = SEMANTIC, model: str = DEFAULT,
                threads: int = 1) -> SemanticTagger | None:
    """The semantic tagger on the installed model; None (rules alone) when the config asks
    for rules or the model is not installed (with a warning that says how to install it)."""
    if engine == RULES:
        return None
    from gateway.semantic.embedder import Embedder

    try:
        embedder = Embedder.load(models_dir, model, threads)
    except TextModelError as exc:
        log.warning("semantic tagger unavailable, tagging with the keyword rules alone: %s", exc)
        return None
    return SemanticTagger(embedder, head=_head(embedder, models_dir))


def head_path(models_dir: Path, model: str, examples: Iterable[Example]) -> Path:
    """Where the head trained on ``examples`` with the text model ``model`` is kept: beside
    the model, keyed by the model, how it makes vectors, the examples and the training
    settings."""
    from gateway.semantic.embedder import RECIPE

    onnx = CATALOGUE[model].onnx_sha256
    key = hashlib.sha256(f"{onnx} {RECIPE} {training_key(examples)}".encode())
    return models_dir / model / f"head-{key.hexdigest()[:16]}.npz"


def builtin_head_path(models_dir: Path, model: str) -> Path:
    """Where the head trained on the built-in examples is kept (:func:`head_path`)."""
    return head_path(models_dir, model, each_builtin_example())


def _head(embed: Embedder, models_dir: Path) -> Head:
    """The head trained on the built-in examples, kept at :func:`builtin_head_path`, so a
    start does not train it again (nor hold the examples)."""
    path = builtin_head_path(models_dir, embed.name)
    folder = path.parent
    try:
        with np.load(path, allow_pickle=False) as saved:
            return Head(tuple(str(c) for c in saved["classes"]),
                        saved["weights"].astype(np.float32), saved["bias"].astype(np.float32),
                        saved["examples"].astype(np.float32), saved["labels"].astype(np.int64),
                        float(saved["neighbours"]),
                        SpellingHead(saved["spelling_weights"].astype(np.float32),
                                     saved["spelling_bias"].astype(np.float32)),
                        float(saved["spelling_share"]))
    except (OSError, ValueError, KeyError):
        pass
    head = fit(embed, builtin_examples())
    if head.spelling is None:  # fit trains one
        raise TypeError("a head without its spelling head")
    try:
        for stale in [*folder.glob("head-*.npz"), *folder.glob(f".head-*{TEMP_SUFFIX}")]:
            stale.unlink()
        with atomic_path(path) as tmp, tmp.open("wb") as out:
            np.savez(out, classes=np.array(head.classes), weights=head.weights, bias=head.bias,
                     examples=head.examples, labels=head.labels, neighbours=head.neighbours,
                     spelling_weights=head.spelling.weights, spelling_bias=head.spelling.bias,
                     spelling_share=head.spelling_share)
    except OSError as exc:
        log.info("cannot keep the trained head in %s (%s)", folder, exc.strerror)
    return head
