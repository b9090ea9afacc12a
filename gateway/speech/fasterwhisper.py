"""The faster-whisper (CTranslate2) engine: optional, behind the same interface as whisper.cpp.

Installed with the ``faster-whisper`` extra and imported only when an operator chooses it.
It reads the CTranslate2 model directory the catalogue checked; it never downloads anything.
"""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path

import numpy as np

from gateway.speech.engine import EngineInfo, Heard
from gateway.speech.errors import EngineError
from gateway.speech.whispercpp import clean_text

log = logging.getLogger(__name__)

COMPUTE_TYPES = ("int8", "int8_float32", "float32")


class FasterWhisperEngine:
    """A CTranslate2 Whisper model on the CPU; greedy (``beam_size`` 1) or beam search."""

    def __init__(
        self,
        model_dir: Path,
        threads: int,
        *,
        language: str = "en",
        initial_prompt: str | None = None,
        beam_size: int = 1,
        compute_type: str = "int8",
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        if compute_type not in COMPUTE_TYPES:
            raise ValueError(f"compute_type must be one of {COMPUTE_TYPES}")
        if not (model_dir / "model.bin").is_file():
            raise EngineError(f"{model_dir} holds no CTranslate2 model.bin")
        try:
            from faster_whisper import WhisperModel
        except ImportError as err:
            raise EngineError(
                "the faster-whisper engine is not installed; install the gateway with the "
                "faster-whisper extra: pip install 'salestag-gateway[faster-whisper]'"
            ) from err
        try:
            self._model = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type,
                                       cpu_threads=threads, local_files_only=True)
        except Exception as err:  # ctranslate2 raises RuntimeError/ValueError
            raise EngineError(f"cannot load speech model {model_dir}: {err}") from err
        self._language = language
        self._prompt = initial_prompt or None
        self._beam_size = beam_size
        self._lock = threading.Lock()
        self.info = EngineInfo("faster-whisper", str(model_dir), threads)
        log.info("loaded CTranslate2 model %s (%s) with %d threads, beam %d", model_dir,
                 compute_type, threads, beam_size)

    def transcribe(self, samples: np.ndarray) -> list[Heard]:
        """Transcribe 16 kHz mono samples; segment times are seconds from their start."""
        if len(samples) == 0:
            return []
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        duration = len(audio) / 16_000
        try:
            with self._lock:
                raw, _ = self._model.transcribe(
                    audio, language=self._language, beam_size=self._beam_size,
                    temperature=0.0, condition_on_previous_text=False,
                    initial_prompt=self._prompt, vad_filter=False)
                found = list(raw)
        except Exception as err:
            raise EngineError(f"faster-whisper failed: {err}") from err
        segments = []
        for seg in found:
            text = clean_text(seg.text)
            if text:
                start = min(max(float(seg.start), 0.0), duration)
                end = min(max(float(seg.end), start), duration)
                segments.append(Heard(
                    start, end, text, probability=math.exp(seg.avg_logprob),
                    avg_logprob=float(seg.avg_logprob), no_speech_prob=float(seg.no_speech_prob)))
        return segments
