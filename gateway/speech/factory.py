"""Builds the speech engine and pipeline a config asks for; the model loads here, once."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.config import Config
from gateway.intel.lexicon import DEFAULT_COMPETITORS, PRIMED_COMPETITORS
from gateway.speech import catalogue
from gateway.speech.engine import Engine
from gateway.speech.errors import EngineError
from gateway.speech.model_choice import AUTO, choose_model, read_facts
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.vad import SileroVad
from gateway.store.layout import Layout

if TYPE_CHECKING:
    from gateway.intel.semantic import SemanticTagger

MAX_PROMPT_CHARS = 600  # Whisper keeps at most 223 prompt tokens; stay well inside


def model_name(config: Config) -> str:
    """The catalogue model the config names; ``auto`` picks one by this box's hardware
    (base whatever the box when the language is not English: only base understands others)."""
    if config.speech.model != AUTO:
        return config.speech.model
    if config.speech.language != "en":
        return "base"
    return choose_model(read_facts()).model


def model_path(config: Config) -> Path:
    """The operator's model file if the config names one, else the installed catalogue model.

    For the faster-whisper engine this is the CTranslate2 ``model.bin`` (its folder is loaded).
    """
    if config.speech.model_path:
        return config.data_path(config.speech.model_path)
    quant = catalogue.CT2 if config.speech.engine == "faster-whisper" else config.speech.quant
    return catalogue.resolve(Layout(config.data_dir).models, model_name(config), quant)


def competitors(config: Config) -> list[str]:
    """The competitor names the tagger knows: the built-in ones plus the site's own."""
    return _with_site(DEFAULT_COMPETITORS, config)


def primed_competitors(config: Config) -> list[str]:
    """The competitor names the recognizer is primed with: the built-in primed ones plus the
    site's own."""
    return _with_site(PRIMED_COMPETITORS, config)


def _with_site(names: Sequence[str], config: Config) -> list[str]:
    return [*names, *(n for n in config.tagger.competitors if n not in names)]


def vocabulary_prompt(vocabulary: Sequence[str], brands: Sequence[str]) -> str:
    """An initial prompt that shows the recognizer how the site's names are spelled."""
    parts = []
    if vocabulary:
        parts.append("Products: " + ", ".join(vocabulary) + ".")
    if brands:
        parts.append("Other companies: " + ", ".join(brands) + ".")
    return " ".join(parts)[:MAX_PROMPT_CHARS]


def build_engine(config: Config) -> Engine:
    """Load the configured engine and model with the configured threads."""
    path = model_path(config)
    prompt = None
    if config.speech.vocabulary_prompt:
        prompt = vocabulary_prompt(config.speech.vocabulary, primed_competitors(config)) or None
    name = model_name(config)
    multilingual = name in catalogue.MULTILINGUAL or bool(config.speech.model_path)
    if config.speech.language != "en" and not multilingual:
        raise EngineError(f"model {name} understands English only; "
                          "choose speech.model = \"base\" for other languages")
    language = "" if config.speech.language == "auto" else config.speech.language
    if config.speech.engine == "faster-whisper":
        from gateway.speech.fasterwhisper import FasterWhisperEngine

        return FasterWhisperEngine(path.parent if path.name == "model.bin" else path,
                                   config.threads, language=language or "en",
                                   initial_prompt=prompt, beam_size=config.speech.beam_size)
    from gateway.speech.whispercpp import WhisperCppEngine

    return WhisperCppEngine(path, config.threads, language=language or "auto",
                            initial_prompt=prompt, beam_size=config.speech.beam_size,
                            short_beam_size=config.speech.short_beam_size,
                            shrink_ctx_below_s=config.speech.shrink_window_below_s)


def build_tagger(config: Config) -> SemanticTagger | None:
    """The semantic tagger (``tagger.engine``), or None when the keyword rules run alone."""
    from gateway.semantic.loader import load_tagger

    return load_tagger(config.data_dir / "models", config.tagger.engine)


def build_pipeline(config: Config) -> SpeechPipeline:
    """The whole speech pipeline of a config: engine, VAD, guards, tagger settings."""
    return SpeechPipeline(
        build_engine(config),
        vad_aggressiveness=config.speech.vad_aggressiveness,
        competitors=competitors(config),
        silero=SileroVad() if config.speech.vad == "silero" else None,
        trackers=config.tagger.trackers,
        tagger=build_tagger(config),
    )
