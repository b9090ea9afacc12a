"""Loads the semantic tagger a config asks for, or says why the rules run alone."""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from gateway.intel.semantic import SemanticTagger
from gateway.semantic.catalogue import DEFAULT, TextModelError

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
    return SemanticTagger(embedder)
