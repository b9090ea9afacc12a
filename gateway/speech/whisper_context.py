"""One whisper.cpp model, driven through pywhispercpp's compiled module ``_pywhispercpp``.

pywhispercpp's ``Model`` class makes the same calls, but its module imports ``requests`` and
``tqdm`` to download models, which the gateway never does: ~6 MB PSS in the service (measured
with bench/footprint.py). This class keeps to what the engine uses: load a model file, set
decoding parameters, decode samples, read the segments with their token probabilities.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True, slots=True)
class RawSegment:
    """A segment as whisper.cpp gives it: times in hundredths of a second from the samples'
    start, and the geometric mean of its tokens' probabilities (nan without tokens)."""

    t0: int
    t1: int
    text: str
    probability: float


class WhisperContext:
    """A loaded model and its decoding parameters; one decode at a time (not thread-safe)."""

    def __init__(self, path: Path, **params: Any) -> None:
        """Load ``path`` (raises RuntimeError when whisper.cpp cannot) and set ``params``
        (``whisper_full_params`` fields) on greedy decoding's defaults."""
        import _pywhispercpp as pw

        self._pw = pw
        self._params = pw.whisper_full_default_params(
            pw.whisper_sampling_strategy.WHISPER_SAMPLING_GREEDY)
        self._set(params)
        with _quiet_stderr():  # whisper.cpp prints ~70 lines while it loads a model
            self._ctx = pw.whisper_init_from_file_with_params(
                str(path), pw.whisper_context_default_params())

    def transcribe(self, samples: np.ndarray, **params: Any) -> list[RawSegment]:
        """Decode 16 kHz mono float32 ``samples`` with ``params`` set first (they stay set)."""
        self._set(params)
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        status = self._pw.whisper_full(self._ctx, self._params, audio, audio.size)
        if status != 0:
            raise RuntimeError(f"whisper_full returned {status}")
        return [self._segment(i) for i in range(self._pw.whisper_full_n_segments(self._ctx))]

    def close(self) -> None:
        """Free the model's memory now (also done when the object is collected)."""
        if self._ctx is not None:
            self._pw.whisper_free(self._ctx)
            self._ctx = None

    def __del__(self) -> None:
        if getattr(self, "_ctx", None) is not None:
            self.close()

    def _set(self, params: dict[str, Any]) -> None:
        for name, value in params.items():
            setattr(self._params, name, value)

    def _segment(self, index: int) -> RawSegment:
        pw, ctx = self._pw, self._ctx
        text = pw.whisper_full_get_segment_text(ctx, index).decode("utf-8", errors="replace")
        probabilities = [pw.whisper_full_get_token_p(ctx, index, j)
                         for j in range(pw.whisper_full_n_tokens(ctx, index))]
        probability = math.nan
        if probabilities:
            logprob = sum(math.log(p) if p > 0 else -math.inf for p in probabilities)
            probability = math.exp(logprob / len(probabilities))
        return RawSegment(pw.whisper_full_get_segment_t0(ctx, index),
                          pw.whisper_full_get_segment_t1(ctx, index), text.strip(), probability)


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null meanwhile (C code writes to it directly)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
