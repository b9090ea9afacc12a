"""The whisper.cpp engine, through pywhispercpp (imported only when an engine is built)."""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any

import numpy as np

from gateway.intel.types import Segment
from gateway.speech.audio import SAMPLE_RATE
from gateway.speech.engine import EngineInfo
from gateway.speech.errors import EngineError

log = logging.getLogger(__name__)

_GGML_MAGIC = b"lmgg"  # 0x67676d6c, little-endian
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+")


def clean_text(text: str) -> str:
    """Strip non-speech annotations such as ``[BLANK_AUDIO]`` or ``(music)``; '' if no words."""
    text = " ".join(_ANNOTATION.sub(" ", text).split())
    return text if any(ch.isalnum() for ch in text) else ""


def _check_model_file(path: Path) -> None:
    """Refuse anything that is not a ggml model file: whisper.cpp would crash on first use."""
    try:
        with path.open("rb") as f:
            magic = f.read(4)
    except OSError as err:
        raise EngineError(f"cannot read speech model {path}: {err.strerror}") from err
    if magic != _GGML_MAGIC:
        raise EngineError(f"{path} is not a whisper.cpp (ggml) model file")


class WhisperCppEngine:
    """A loaded whisper.cpp model: greedy decoding at temperature 0, one call at a time."""

    def __init__(
        self,
        model_path: Path,
        threads: int,
        *,
        language: str = "en",
        initial_prompt: str | None = None,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        _check_model_file(model_path)
        from pywhispercpp.model import Model

        params: dict[str, Any] = {
            "n_threads": threads,
            "language": language,
            "print_progress": False,
            "print_realtime": False,
            "print_timestamps": False,
            "temperature": 0.0,
            "temperature_inc": 0.0,  # no sampling fallback: same audio, same words
            "no_context": True,
            "suppress_blank": True,
            "suppress_nst": True,
        }
        if initial_prompt:
            params["initial_prompt"] = initial_prompt
        try:
            self._model = Model(str(model_path), params_sampling_strategy=0,
                                redirect_whispercpp_logs_to=None, **params)
        except Exception as err:  # the bindings raise bare Exceptions and RuntimeErrors
            raise EngineError(f"cannot load speech model {model_path}: {err}") from err
        self._lock = threading.Lock()
        self.info = EngineInfo("whisper.cpp", str(model_path), threads)
        log.info("loaded speech model %s with %d threads", model_path, threads)

    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        """Transcribe 16 kHz mono samples; segment times are seconds from their start."""
        if len(samples) == 0:
            return []
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        duration = len(audio) / SAMPLE_RATE
        try:
            with self._lock:
                raw = self._model.transcribe(audio)
        except Exception as err:
            raise EngineError(f"whisper.cpp failed: {err}") from err
        segments = []
        for seg in raw:
            text = clean_text(str(seg.text))
            if text:
                start = min(max(seg.t0 / 100, 0.0), duration)
                end = min(max(seg.t1 / 100, start), duration)
                segments.append(Segment(start, end, text))
        return segments
