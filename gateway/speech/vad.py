"""Voice activity detection: where in a recording someone is speaking.

The frame classifiers (webrtcvad, or Silero through onnxruntime; imported only when used) are
kept apart from the smoothing, which is a pure function of per-frame decisions.

webrtcvad is tiny and fast but takes loud stationary noise for speech; Silero rejects it (see
the README's figures) at the cost of onnxruntime (~35 MB RSS). Silero's model file ships with
the optional faster-whisper extra and is checked against its pinned sha256.
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.speech.audio import Audio
from gateway.speech.errors import SpeechError

_FRAME_MS = (10, 20, 30)
_VAD_RATES = (8_000, 16_000, 32_000, 48_000)
BACKENDS = ("webrtc", "silero")

SILERO_PACKAGE = "faster_whisper"
SILERO_FILE = "assets/silero_vad_v6.onnx"
SILERO_SHA256 = "4cbf549b8326f60f80f2536d9eefeb450a9abe83365a098031c89719f1be17d2"
SILERO_FRAME = 512  # samples at 16 kHz: 32 ms
_SILERO_CONTEXT = 64
_SILERO_BATCH = 64
SILERO_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Region:
    """A stretch of speech, in seconds from the start of the recording."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.end_s - self.start_s


def smooth(
    voiced: Sequence[bool], *, frame_s: float, padding_s: float, min_speech_s: float
) -> list[Region]:
    """Turn per-frame speech decisions into padded, merged speech regions.

    Each run of voiced frames is widened by ``padding_s`` on both sides (within the recording);
    runs whose padding overlaps merge, so pauses shorter than ``2 * padding_s`` stay inside one
    region. A region with less than ``min_speech_s`` of voiced frames is dropped as a blip.
    """
    total = len(voiced) * frame_s
    pad = round(padding_s / frame_s)
    regions: list[tuple[int, int, int]] = []  # first frame, end frame (exclusive), voiced count
    i = 0
    while i < len(voiced):
        if not voiced[i]:
            i += 1
            continue
        j = i
        while j < len(voiced) and voiced[j]:
            j += 1
        first, end = max(0, i - pad), min(len(voiced), j + pad)
        if regions and first <= regions[-1][1]:
            prev = regions.pop()
            regions.append((prev[0], end, prev[2] + j - i))
        else:
            regions.append((first, end, j - i))
        i = j
    return [
        Region(round(first * frame_s, 3), round(min(end * frame_s, total), 3))
        for first, end, count in regions
        if count * frame_s >= min_speech_s
    ]


def frame_decisions(
    samples: np.ndarray, sample_rate: int, *, aggressiveness: int, frame_ms: int
) -> list[bool]:
    """Classify each whole frame of float32 mono samples as speech or not with webrtcvad."""
    if frame_ms not in _FRAME_MS:
        raise ValueError(f"frame_ms must be one of {_FRAME_MS}, not {frame_ms}")
    if not 0 <= aggressiveness <= 3:
        raise ValueError(f"aggressiveness must be 0..3, not {aggressiveness}")
    if sample_rate not in _VAD_RATES:
        raise ValueError(f"webrtcvad cannot classify audio at {sample_rate} Hz")
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    n = sample_rate * frame_ms // 1000
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    width = 2 * n
    return [
        bool(vad.is_speech(pcm[start : start + width], sample_rate))
        for start in range(0, len(pcm) - width + 1, width)
    ]


class SileroVad:
    """The Silero VAD model (v6, ONNX) on one CPU thread; load once, classify many times."""

    def __init__(self, model_path: Path | None = None) -> None:
        path = model_path or silero_model_path()
        try:
            import onnxruntime
        except ImportError as err:
            raise SpeechError("the Silero VAD needs onnxruntime (the faster-whisper extra)") \
                from err
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        opts.enable_cpu_mem_arena = False
        opts.enable_mem_pattern = False
        opts.log_severity_level = 4
        self._session: Any = onnxruntime.InferenceSession(
            str(path), providers=["CPUExecutionProvider"], sess_options=opts)
        self._lock = threading.Lock()

    def probabilities(self, samples: np.ndarray) -> np.ndarray:
        """Speech probability of each whole 32 ms frame of 16 kHz float32 samples."""
        n = len(samples) // SILERO_FRAME
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        frames = samples[: n * SILERO_FRAME].astype(np.float32).reshape(n, SILERO_FRAME)
        context = np.zeros((n, _SILERO_CONTEXT), dtype=np.float32)
        context[1:] = frames[:-1, -_SILERO_CONTEXT:]
        batch = np.concatenate([context, frames], axis=1)
        state = np.zeros((1, 1, 128), dtype=np.float32)
        out = []
        with self._lock:
            for i in range(0, n, _SILERO_BATCH):
                probs = self._session.run(
                    None, {"input": batch[i : i + _SILERO_BATCH], "h": state, "c": state})[0]
                out.append(np.asarray(probs, dtype=np.float32).ravel())
        return np.concatenate(out)


def silero_model_path() -> Path:
    """The Silero model file shipped by the faster-whisper package, after checking its hash."""
    spec = importlib.util.find_spec(SILERO_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError(
            "the Silero VAD model is not installed; install the gateway with the "
            "faster-whisper extra, or set speech.vad = \"webrtc\"")
    path = Path(next(iter(spec.submodule_search_locations))) / SILERO_FILE
    try:
        with path.open("rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
    except OSError as err:
        raise SpeechError(f"cannot read the Silero VAD model {path}: {err.strerror}") from err
    if digest != SILERO_SHA256:
        raise SpeechError(f"{path} does not match its pinned sha256; reinstall faster-whisper")
    return path


@dataclass(frozen=True, slots=True)
class Detection:
    """The speech regions of a recording and the per-frame decisions behind them."""

    regions: list[Region]
    voiced: list[bool]
    frame_s: float


def detect(
    audio: Audio,
    *,
    aggressiveness: int = 2,
    frame_ms: int = 30,
    padding_ms: int = 300,
    min_speech_ms: int = 250,
    silero: SileroVad | None = None,
) -> Detection:
    """Classify every frame of ``audio`` and smooth the decisions into speech regions.

    With ``silero``, frames are 32 ms and classified by the Silero model; otherwise webrtcvad
    with ``aggressiveness`` and ``frame_ms``.
    """
    if silero is not None:
        frame_s = SILERO_FRAME / audio.sample_rate
        voiced = [bool(p) for p in silero.probabilities(audio.samples) >= SILERO_THRESHOLD]
    else:
        frame_s = frame_ms / 1000
        voiced = frame_decisions(
            audio.samples, audio.sample_rate, aggressiveness=aggressiveness, frame_ms=frame_ms
        )
    regions = smooth(
        voiced, frame_s=frame_s, padding_s=padding_ms / 1000, min_speech_s=min_speech_ms / 1000
    )
    # the last partial frame is unclassified; let a region that reaches it run to the end
    if regions and regions[-1].end_s >= len(voiced) * frame_s - 0.001:
        regions[-1] = Region(regions[-1].start_s, round(audio.duration_s, 3))
    return Detection(regions, voiced, frame_s)


def speech_regions(
    audio: Audio,
    *,
    aggressiveness: int = 2,
    frame_ms: int = 30,
    padding_ms: int = 300,
    min_speech_ms: int = 250,
) -> list[Region]:
    """Find the regions of ``audio`` that contain speech (webrtcvad)."""
    return detect(audio, aggressiveness=aggressiveness, frame_ms=frame_ms,
                  padding_ms=padding_ms, min_speech_ms=min_speech_ms).regions
