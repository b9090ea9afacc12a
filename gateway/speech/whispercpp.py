"""The whisper.cpp engine, through pywhispercpp's compiled module (imported only when an engine
is built; see :mod:`gateway.speech.whisper_context`)."""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from gateway.speech.audio import SAMPLE_RATE
from gateway.speech.engine import EngineInfo, Heard
from gateway.speech.errors import EngineError

log = logging.getLogger(__name__)

_GGML_MAGIC = b"lmgg"  # 0x67676d6c, little-endian
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|\*[^*]*\*|♪+")

FULL_AUDIO_CTX = 1500  # encoder positions for Whisper's 30 s window (50 per second)
_CTX_STEP = 64
_CTX_MARGIN = 64  # positions of headroom past the audio (~1.3 s)
PROMPT_MIN_S = 20.0
"""Windows shorter than this are decoded without the vocabulary prompt. Measured on short
utterances at full context (tiny.en, bench/asr.py --stages): the prompt raises WER 0.211 ->
0.239 (the decoder leans on the prompt when the audio says little), while on long windows it
lowers the conversation's WER 0.233 -> 0.142."""
TEMPERATURE_INC = 0.2
"""Step of whisper.cpp's fallback: a greedy decode that fails its checks (mean log-probability
under -1, or a loop) is decoded again at temperature 0.2, 0.4, ... as bare whisper.cpp does.
Without it a failed decode came out truncated ("The unlimited $") and the guards dropped it, or
looped (short utterances, bench/asr.py --stages). whisper.cpp seeds its sampler, so the same
audio still gives the same words."""
MAX_TOKENS_PER_S = 8  # far above speech (~4 tokens/s); caps the cost of a decoding loop
_MIN_MAX_TOKENS = 32
_ANNOTATION_WORDS = 3  # "(upbeat music)" is an annotation; a bracketed sentence is speech
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def clean_text(text: str) -> str:
    """Strip non-speech annotations such as ``[BLANK_AUDIO]`` or ``(music)``; '' if no words.

    Brackets around more than ``_ANNOTATION_WORDS`` words hold speech (a prompted model wraps
    whole sentences so): only the brackets go.
    """
    def strip(match: re.Match[str]) -> str:
        inner = match.group(0)[1:-1]
        return f" {inner} " if len(inner.split()) > _ANNOTATION_WORDS else " "

    text = " ".join(_ANNOTATION.sub(strip, text).replace("(", " ").replace(")", " ").split())
    return text if any(ch.isalnum() for ch in text) else ""


def split_sentences(segment: Heard) -> list[Heard]:
    """Cut a segment holding several sentences at their ends, giving each a share of its span in
    proportion to its length: a prompted whisper.cpp writes one segment per window, and its word
    timestamps are too coarse to place sentences better (measured)."""
    parts = [part for part in _SENTENCE_END.split(segment.text) if part.strip()]
    if len(parts) < 2:
        return [segment]
    total = sum(len(part) for part in parts)
    span = segment.end - segment.start
    out, start = [], segment.start
    for part in parts:
        end = start + span * len(part) / total
        out.append(replace(segment, start=start, end=end, text=part.strip()))
        start = end
    return out


def audio_ctx_for(duration_s: float, shrink_below_s: float) -> int:
    """Encoder context for a window: the full 1500 unless it is shorter than ``shrink_below_s``.

    Whisper encodes 30 s whatever the input holds; a short window with a context cut to fit it
    (rounded up to a multiple of 64, with a margin) costs a fraction of that.
    """
    if duration_s >= shrink_below_s:
        return 0  # whisper.cpp's "as trained"
    needed = duration_s * SAMPLE_RATE / 320 + _CTX_MARGIN  # 320 samples per encoder position
    return min(FULL_AUDIO_CTX, _CTX_STEP * math.ceil(needed / _CTX_STEP))


def decoding(beam_size: int) -> dict[str, Any]:
    """pywhispercpp parameters for greedy decoding (``beam_size`` 1) or beam search, as
    whisper.cpp's defaults for that strategy would set them."""
    from _pywhispercpp import whisper_sampling_strategy as strategy

    if beam_size > 1:
        return {"strategy": strategy.WHISPER_SAMPLING_BEAM_SEARCH,
                "beam_search": {"beam_size": beam_size, "patience": -1.0}}
    return {"strategy": strategy.WHISPER_SAMPLING_GREEDY,
            "beam_search": {"beam_size": -1, "patience": -1.0}}


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
    """A loaded whisper.cpp model at temperature 0, one call at a time.

    ``beam_size`` 1 decodes greedily; more runs beam search. Windows shorter than
    ``shrink_ctx_below_s`` are decoded with ``short_beam_size`` instead (the strategy is set per
    call on the one loaded model): beam search pays on short utterances, not on long prompted
    windows (see the README's figures). ``initial_prompt`` primes the
    decoder with the site's vocabulary (product and competitor names) on windows of at least
    ``prompt_min_s`` (see :data:`PROMPT_MIN_S`) that run at full context. Windows shorter than
    ``shrink_ctx_below_s`` are encoded with a reduced audio context (0 turns that off): about a
    third of the cost, and as accurate as the full context within measurement noise (short
    utterances, bench/asr.py --stages); a prompt over a cut-down context sends tiny.en into
    loops, so those windows are never prompted.
    Decoding stops at ``MAX_TOKENS_PER_S`` tokens per second of audio. A decode that fails
    whisper.cpp's checks is decoded again at temperatures rising by ``temperature_inc`` (see
    :data:`TEMPERATURE_INC`; 0 turns the fallback off).
    """

    def __init__(
        self,
        model_path: Path,
        threads: int,
        *,
        language: str = "en",
        initial_prompt: str | None = None,
        beam_size: int = 1,
        short_beam_size: int = 1,
        shrink_ctx_below_s: float = 0.0,
        temperature_inc: float = TEMPERATURE_INC,
        prompt_min_s: float = PROMPT_MIN_S,
    ) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        for name, width in (("beam_size", beam_size), ("short_beam_size", short_beam_size)):
            if width < 1:
                raise ValueError(f"{name} must be at least 1, not {width}")
        _check_model_file(model_path)
        from gateway.speech.whisper_context import WhisperContext

        params: dict[str, Any] = {
            "n_threads": threads,
            "language": language,
            "print_progress": False,
            "print_realtime": False,
            "print_timestamps": False,
            "temperature": 0.0,
            "temperature_inc": temperature_inc,
            "no_context": True,
            "suppress_blank": True,
            "suppress_nst": True,
        }
        self._load: Callable[[], WhisperContext] = lambda: WhisperContext(model_path, **params)
        try:
            self._model = self._load()
        except Exception as err:  # the bindings raise bare Exceptions and RuntimeErrors
            raise EngineError(f"cannot load speech model {model_path}: {err}") from err
        self._lock = threading.Lock()
        self._prompt = initial_prompt or ""
        self._shrink_below_s = shrink_ctx_below_s
        self._beam_size = beam_size
        self._short_beam_size = short_beam_size
        self._prompt_min_s = prompt_min_s
        self._widest = 0  # the widest audio_ctx this model has run
        self.info = EngineInfo("whisper.cpp", str(model_path), threads)
        log.info("loaded speech model %s with %d threads, beam %d (%d below %g s)", model_path,
                 threads, beam_size, short_beam_size, shrink_ctx_below_s)

    def _fit_context(self, needed: int) -> None:
        """Make the model's audio context at least ``needed`` positions wide.

        whisper.cpp 1.8.5 keeps encoder state past a smaller audio_ctx than one it already ran:
        a short window after a long one decodes differently, at worst stale speech in a loop. So
        a context never shrinks; instead, a window needing at most a third of the widest context
        so far gets a freshly loaded model (about 0.2 s for tiny.en), which costs less than
        encoding it at the wide context (a short clip at a full 30 s context: ~0.5 s).
        """
        if self._widest and needed * 3 <= self._widest:
            self._model.close()  # free the old context before the new one takes its memory
            self._model = self._load()
            self._widest = 0
        self._widest = max(self._widest, needed)

    def transcribe(self, samples: np.ndarray) -> list[Heard]:
        """Transcribe 16 kHz mono samples; segment times are seconds from their start."""
        if len(samples) == 0:
            return []
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        duration = len(audio) / SAMPLE_RATE
        needed = audio_ctx_for(duration, self._shrink_below_s) or FULL_AUDIO_CTX
        try:
            with self._lock:
                self._fit_context(needed)
                ctx = self._widest if self._widest < FULL_AUDIO_CTX else 0
                prompted = bool(self._prompt) and not ctx and duration >= self._prompt_min_s
                short = duration < self._shrink_below_s
                raw = self._model.transcribe(
                    audio, audio_ctx=ctx,
                    **decoding(self._short_beam_size if short else self._beam_size),
                    initial_prompt=self._prompt if prompted else "",
                    max_tokens=max(_MIN_MAX_TOKENS, math.ceil(duration * MAX_TOKENS_PER_S)))
        except Exception as err:
            raise EngineError(f"whisper.cpp failed: {err}") from err
        segments = []
        for seg in raw:
            text = clean_text(str(seg.text))
            if text:
                start = min(max(seg.t0 / 100, 0.0), duration)
                end = min(max(seg.t1 / 100, start), duration)
                probability = seg.probability
                logprob = math.log(probability) if probability > 0 else math.nan
                segment = Heard(start, end, text, probability=probability,
                                avg_logprob=logprob)
                segments += split_sentences(segment) if prompted else [segment]
        return segments
