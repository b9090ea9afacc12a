"""The small interface every speech engine implements."""

from __future__ import annotations

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


class Engine(Protocol):
    """Turns up to 30 s of 16 kHz mono float32 samples into segments.

    Segment times are in seconds from the start of ``samples``.
    """

    info: EngineInfo

    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        """Transcribe ``samples``; return the segments heard, possibly none."""
        ...
