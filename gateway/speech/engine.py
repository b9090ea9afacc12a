"""The small interface every speech engine implements."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from gateway.intel.types import Segment


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What produced a transcript: engine name, model file and thread count."""

    name: str
    model_path: str
    threads: int


@dataclass(frozen=True, slots=True)
class Heard(Segment):
    """A segment with the engine's own evidence about it (NaN where an engine has none).

    ``probability`` is the geometric mean of the token probabilities, ``avg_logprob`` the mean
    token log-probability, ``no_speech_prob`` the model's belief that the window held no speech.
    """

    probability: float = math.nan
    avg_logprob: float = math.nan
    no_speech_prob: float = math.nan


class Engine(Protocol):
    """Turns up to 30 s of 16 kHz mono float32 samples into segments.

    Segment times are in seconds from the start of ``samples``. Engines may return
    :class:`Heard` segments to give the hallucination guards more to go on.
    """

    info: EngineInfo

    def transcribe(self, samples: np.ndarray) -> Sequence[Segment]:
        """Transcribe ``samples``; return the segments heard, possibly none."""
        ...
