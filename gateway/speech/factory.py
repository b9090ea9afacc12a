"""Builds the speech pipeline a config asks for; the model loads here, once."""

from __future__ import annotations

from pathlib import Path

from gateway.config import Config
from gateway.speech import catalogue
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.whispercpp import WhisperCppEngine


def model_path(config: Config) -> Path:
    """The operator's model file if the config names one, else the installed catalogue model."""
    if config.speech.model_path:
        return config.data_path(config.speech.model_path)
    return catalogue.resolve(config.data_dir / "models", config.speech.model, config.speech.quant)


def build_pipeline(config: Config) -> SpeechPipeline:
    engine = WhisperCppEngine(model_path(config), config.threads)
    competitors = list(config.tagger.competitors) or None
    return SpeechPipeline(engine, vad_aggressiveness=config.speech.vad_aggressiveness,
                          competitors=competitors)
