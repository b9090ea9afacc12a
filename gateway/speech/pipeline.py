"""From decoded audio to a redacted, tagged transcript: VAD, windows, engine, tagger."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.intel import Finding, annotate
from gateway.intel.types import Segment, Tag
from gateway.speech.audio import Audio
from gateway.speech.engine import Engine
from gateway.speech.vad import speech_regions
from gateway.speech.windows import pack_windows

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """A processed recording: redacted segments, tags, identifiers found, and timings (s)."""

    segments: tuple[Segment, ...]
    tags: tuple[Tag, ...]
    identifiers: tuple[Finding, ...]
    duration_s: float
    speech_s: float
    asr_s: float
    total_s: float

    @property
    def text(self) -> str:
        """The redacted transcript as one line."""
        return " ".join(segment.text for segment in self.segments)


@dataclass(frozen=True, slots=True)
class _Transcript:
    segments: list[Segment]
    speech_s: float
    asr_s: float


class SpeechPipeline:
    """Runs an engine only over the speech in a recording, in windows of at most 30 s."""

    def __init__(
        self,
        engine: Engine,
        *,
        vad_aggressiveness: int = 2,
        competitors: Sequence[str] | None = None,
        max_window_s: float = 30.0,
    ) -> None:
        self.engine = engine
        self._vad_aggressiveness = vad_aggressiveness
        self._competitors = tuple(competitors) if competitors is not None else None
        self._max_window_s = max_window_s

    def transcribe(self, audio: Audio) -> list[Segment]:
        """Transcribe the speech in ``audio``; times are seconds from its start."""
        return self._transcribe(audio).segments

    def process(self, audio: Audio) -> PipelineResult:
        """Transcribe, then tag and redact."""
        started = time.perf_counter()
        transcript = self._transcribe(audio)
        if self._competitors is None:
            annotation = annotate(transcript.segments)
        else:
            annotation = annotate(transcript.segments, competitors=self._competitors)
        return PipelineResult(
            segments=tuple(annotation.segments),
            tags=tuple(annotation.tags),
            identifiers=tuple(annotation.identifiers),
            duration_s=audio.duration_s,
            speech_s=transcript.speech_s,
            asr_s=transcript.asr_s,
            total_s=time.perf_counter() - started,
        )

    def _transcribe(self, audio: Audio) -> _Transcript:
        regions = speech_regions(audio, aggressiveness=self._vad_aggressiveness)
        windows = pack_windows(regions, max_window_s=self._max_window_s)
        segments: list[Segment] = []
        asr_s = 0.0
        for window in windows:
            samples = window.extract(audio.samples, audio.sample_rate)
            started = time.perf_counter()
            heard = self.engine.transcribe(samples)
            asr_s += time.perf_counter() - started
            for seg in heard:
                start, end = window.span_to_original(seg.start, seg.end)
                segments.append(Segment(start, end, seg.text, seg.speaker))
        speech_s = sum(region.duration_s for region in regions)
        log.debug(
            "%.1f s of audio: %d speech regions (%.1f s) in %d windows, asr %.2f s",
            audio.duration_s,
            len(regions),
            speech_s,
            len(windows),
            asr_s,
        )
        return _Transcript(segments, speech_s, asr_s)
