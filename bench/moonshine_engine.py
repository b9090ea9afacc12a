"""A Moonshine engine for the benchmarks: Moonshine AI's English speech models on ONNX Runtime.

It implements the gateway's engine interface (:class:`gateway.speech.engine.Engine`) so the
speech pipeline can run it; bench/asr_moonshine.py measures it against whisper.cpp. The gateway
does not ship it (measured: see the README's speech section).

Moonshine encodes only the audio it is given (no 30 s padding as in Whisper), so a short clip
costs a fraction of a long one. The model folder holds the encoder, the merged decoder (one graph
with and without its key/value cache) in ONNX Runtime's ``.ort`` format, and the tokenizer as
``tokenizer.json`` (bench/asr_moonshine.py extracts and checks them).
Layer, head and vocabulary sizes are read from the model files. Greedy decoding, as the
reference implementation does; onnxruntime and tokenizers are imported when the engine is built.
Its words match moonshine-cpp's own C++ runner on the clips compared (12 of 12).

What it costs, and why: the ``.ort`` files keep their weights as 8-bit integers and turn them
back into float32 inside the graph (Cast, Mul, Add) on every run, so every decoder step
rebuilds all its weights (the 32768 x 416 embedding alone is 54 MB) instead of once at load;
ONNX Runtime applies no constant folding to ``.ort`` models. A call peaks ~300 MB above the
loaded model (CPU memory arena off; ~450 MB with it).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gateway.speech.audio import SAMPLE_RATE
from gateway.speech.engine import EngineInfo, Heard
from gateway.speech.errors import EngineError
from gateway.speech.whispercpp import clean_text, split_sentences

log = logging.getLogger(__name__)

ENCODER = "encoder_model.ort"
DECODER = "decoder_model_merged.ort"
TOKENIZER = "tokenizer.json"
MODEL_FILES = (ENCODER, DECODER, TOKENIZER)

START_TOKEN = 1  # <s>
END_TOKEN = 2  # </s>
MAX_TOKENS_PER_S = 8.0  # far above speech (~4 tokens/s); caps the cost of a decoding loop
MIN_MAX_TOKENS = 16
MIN_SAMPLES = SAMPLE_RATE // 10  # the encoder needs 0.1 s; shorter windows are padded with quiet
_PAST = re.compile(r"past_key_values\.(\d+)\.(decoder|encoder)\.(key|value)")

Step = Callable[[int, bool], np.ndarray]
"""One decoder step: feed a token (``True`` on the first step), get the next token's logits."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """Tokens chosen (without start and end) and the log-probability of each."""

    tokens: tuple[int, ...]
    logprobs: tuple[float, ...]

    @property
    def avg_logprob(self) -> float:
        """Mean log-probability of the tokens and the end token (NaN when there are none)."""
        return float(np.mean(self.logprobs)) if self.logprobs else math.nan


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities of a vector of logits, computed stably in float64."""
    shifted = logits.astype(np.float64) - float(np.max(logits))
    return shifted - math.log(float(np.sum(np.exp(shifted))))


def greedy(step: Step, max_tokens: int) -> Decoded:
    """Take the likeliest token each step until the end token or ``max_tokens``.

    The end token's log-probability counts too: a decoder unsure where to stop is unsure.
    """
    tokens: list[int] = []
    logprobs: list[float] = []
    token, first = START_TOKEN, True
    for _ in range(max_tokens):
        scores = log_softmax(step(token, first))
        token, first = int(np.argmax(scores)), False
        logprobs.append(float(scores[token]))
        if token == END_TOKEN:
            break
        tokens.append(token)
    return Decoded(tuple(tokens), tuple(logprobs))


def max_tokens_for(duration_s: float) -> int:
    """The decoding budget for ``duration_s`` of audio."""
    return max(MIN_MAX_TOKENS, math.ceil(duration_s * MAX_TOKENS_PER_S))


class MoonshineEngine:
    """A Moonshine model on ONNX Runtime's CPU provider, one call at a time.

    Each window becomes one segment spanning it (Moonshine has no timestamps), cut at sentence
    ends like a prompted whisper.cpp segment; its ``probability`` is the geometric mean of the
    token probabilities, for the hallucination guards.
    """

    def __init__(self, model_dir: Path, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        missing = [name for name in MODEL_FILES if not (model_dir / name).is_file()]
        if missing:
            raise EngineError(f"{model_dir} holds no Moonshine model (missing "
                              f"{', '.join(missing)})")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as err:
            raise EngineError("the Moonshine engine needs onnxruntime and tokenizers") from err
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_cpu_mem_arena = False
        try:
            self._encoder = onnxruntime.InferenceSession(
                str(model_dir / ENCODER), options, providers=["CPUExecutionProvider"])
            self._decoder = onnxruntime.InferenceSession(
                str(model_dir / DECODER), options, providers=["CPUExecutionProvider"])
            self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER))
        except Exception as err:  # onnxruntime and tokenizers raise their own exception types
            raise EngineError(f"cannot load Moonshine model {model_dir}: {err}") from err
        self._input = self._encoder.get_inputs()[0].name
        self._past = past_shapes(self._decoder.get_inputs())
        # each output after the logits, as the cache input it feeds on the next step
        self._presents = [out.name.replace("present.", "past_key_values.", 1)
                          for out in self._decoder.get_outputs()[1:]]
        if set(self._presents) != set(self._past):
            raise EngineError(f"{model_dir / DECODER}: its cache outputs do not match its inputs")
        self._lock = threading.Lock()
        self.info = EngineInfo("moonshine", str(model_dir), threads)
        log.info("loaded Moonshine model %s with %d threads (%d decoder layers)", model_dir,
                 threads, len(self._past) // 4)

    def transcribe(self, samples: np.ndarray) -> list[Heard]:
        """Transcribe 16 kHz mono samples; the segments span them."""
        if len(samples) == 0:
            return []
        audio = np.ascontiguousarray(samples, dtype=np.float32)
        duration = len(audio) / SAMPLE_RATE
        if len(audio) < MIN_SAMPLES:
            audio = np.pad(audio, (0, MIN_SAMPLES - len(audio)))
        try:
            with self._lock:
                decoded = self._decode(audio[None, :], max_tokens_for(duration))
            text = clean_text(self._tokenizer.decode(list(decoded.tokens)))
        except Exception as err:  # onnxruntime raises its own exception types
            raise EngineError(f"Moonshine failed: {err}") from err
        if not text:
            return []
        logprob = decoded.avg_logprob
        segment = Heard(0.0, duration, text, probability=math.exp(logprob),
                        avg_logprob=logprob)
        return split_sentences(segment)

    def _decode(self, audio: np.ndarray, max_tokens: int) -> Decoded:
        hidden = self._encoder.run(None, {self._input: audio})[0]
        cache: dict[str, np.ndarray] = {
            name: np.zeros(shape, np.float32) for name, shape in self._past.items()}

        def step(token: int, first: bool) -> np.ndarray:
            outputs = self._decoder.run(None, {
                "input_ids": np.array([[token]], np.int64),
                "encoder_hidden_states": hidden,
                "use_cache_branch": np.array([not first]),
                **cache,
            })
            # the encoder's keys and values are computed on the first step and kept after it
            for name, value in zip(self._presents, outputs[1:], strict=True):
                if first or ".decoder." in name:
                    cache[name] = value
            logits: np.ndarray = outputs[0][0, -1]
            return logits

        return greedy(step, max_tokens)


def past_shapes(inputs: Sequence[Any]) -> dict[str, tuple[int, int, int, int]]:
    """The empty (length 0) cache tensors of a merged decoder, in its ``present.*`` order.

    ``inputs`` are the decoder's input descriptions (with ``name`` and ``shape``): each
    ``past_key_values.<layer>.<decoder|encoder>.<key|value>`` is [batch, heads, length, dim].
    """
    shapes: dict[str, tuple[int, int, int, int]] = {}
    for arg in inputs:
        if _PAST.fullmatch(arg.name):
            heads, dim = arg.shape[1], arg.shape[3]
            if not (isinstance(heads, int) and isinstance(dim, int)):
                raise EngineError(f"decoder input {arg.name} has no fixed heads and size")
            shapes[arg.name] = (1, heads, 0, dim)
    if not shapes:
        raise EngineError("the decoder has no key/value cache inputs: not a merged decoder")
    return shapes
