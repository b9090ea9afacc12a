"""From decoded audio to a redacted, tagged transcript: VAD, windows, engine, guards, tagger."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.intel import Finding, SemanticTagger, annotate
from gateway.intel.talk import SPEAKERS, UNKNOWN, TalkMetrics, talk_metrics
from gateway.intel.types import Segment, Tag
from gateway.speech import guards
from gateway.speech.audio import Audio
from gateway.speech.engine import Engine
from gateway.speech.vad import SileroVad, detect
from gateway.speech.windows import pack_windows

log = logging.getLogger(__name__)

VAD_PADDING_MS = 500
"""Speech kept on each side of what the VAD heard. Measured: 300 ms clips word onsets and
doubles the base model's WER on the benchmark conversation (0.100 -> 0.208); 500 ms does not."""


@dataclass(frozen=True, slots=True)
class PipelineResult:
    """A processed recording: redacted segments, tags, identifiers found, and timings (s).

    ``talk`` holds the talk metrics (speakers unknown for single-channel audio); ``dropped``
    counts the segments the hallucination guards removed; ``sentiments`` scores each segment
    in [-1, 1].
    """

    segments: tuple[Segment, ...]
    tags: tuple[Tag, ...]
    identifiers: tuple[Finding, ...]
    duration_s: float
    speech_s: float
    asr_s: float
    total_s: float
    talk: TalkMetrics = TalkMetrics((UNKNOWN,))
    dropped: dict[str, int] = field(default_factory=dict)
    sentiments: tuple[float, ...] = ()

    @property
    def text(self) -> str:
        """The redacted transcript as one line."""
        return " ".join(segment.text for segment in self.segments)


@dataclass(frozen=True, slots=True)
class _Transcript:
    segments: list[Segment]
    speech_s: float
    asr_s: float
    dropped: dict[str, int]


class SpeechPipeline:
    """Runs an engine only over the speech in a recording, in windows of at most 30 s.

    Segments the hallucination guards reject are dropped. Two-channel badges are transcribed
    channel by channel (:meth:`process_channels`), so every segment carries its speaker.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        vad_aggressiveness: int = 2,
        competitors: Sequence[str] | None = None,
        max_window_s: float = 30.0,
        silero: SileroVad | None = None,
        guard_config: guards.GuardConfig | None = guards.DEFAULT_GUARDS,
        trackers: Sequence[str] = (),
        vad_padding_ms: int = VAD_PADDING_MS,
        tagger: SemanticTagger | None = None,
    ) -> None:
        self.engine = engine
        self._vad_aggressiveness = vad_aggressiveness
        self._competitors = tuple(competitors) if competitors is not None else None
        self._max_window_s = max_window_s
        self._silero = silero
        self._guards = guard_config
        self._trackers = tuple(trackers)
        self._padding_ms = vad_padding_ms
        self.tagger = tagger

    def transcribe(self, audio: Audio, speaker: str = UNKNOWN) -> list[Segment]:
        """Transcribe the speech in ``audio``; times are seconds from its start."""
        return self._transcribe(audio, speaker).segments

    def process(self, audio: Audio) -> PipelineResult:
        """Transcribe single-channel audio (speakers unknown), then tag and redact."""
        started = time.perf_counter()
        transcript = self._transcribe(audio, UNKNOWN)
        return self._finish(transcript, audio.duration_s, started, speakers_known=False)

    def process_channels(
        self, channels: Sequence[Audio], speakers: Sequence[str] = SPEAKERS
    ) -> PipelineResult:
        """Transcribe each channel as its speaker's, merge in time order, tag and redact."""
        if len(channels) != len(speakers) or not channels:
            raise ValueError(f"{len(channels)} channels for speakers {tuple(speakers)}")
        started = time.perf_counter()
        parts = [self._transcribe(a, sp) for a, sp in zip(channels, speakers, strict=True)]
        dropped: dict[str, int] = {}
        for part in parts:
            for reason, n in part.dropped.items():
                dropped[reason] = dropped.get(reason, 0) + n
        merged = _Transcript(
            sorted((s for p in parts for s in p.segments), key=lambda s: (s.start, s.end)),
            sum(p.speech_s for p in parts), sum(p.asr_s for p in parts), dropped)
        duration = max(a.duration_s for a in channels)
        return self._finish(merged, duration, started, speakers_known=True)

    def _finish(self, transcript: _Transcript, duration_s: float, started: float, *,
                speakers_known: bool) -> PipelineResult:
        annotation = annotate(transcript.segments, competitors=self._competitors,
                              trackers=self._trackers, tagger=self.tagger)
        return PipelineResult(
            segments=tuple(annotation.segments),
            tags=tuple(annotation.tags),
            identifiers=tuple(annotation.identifiers),
            duration_s=duration_s,
            speech_s=transcript.speech_s,
            asr_s=transcript.asr_s,
            total_s=time.perf_counter() - started,
            talk=talk_metrics(annotation.segments, speakers_known=speakers_known),
            dropped=transcript.dropped,
            sentiments=annotation.sentiments,
        )

    def _transcribe(self, audio: Audio, speaker: str) -> _Transcript:
        found = detect(audio, aggressiveness=self._vad_aggressiveness, silero=self._silero,
                       padding_ms=self._padding_ms)
        windows = pack_windows(found.regions, max_window_s=self._max_window_s)
        heard: list[Segment] = []
        asr_s = 0.0
        for window in windows:
            samples = window.extract(audio.samples, audio.sample_rate)
            started = time.perf_counter()
            raw = self.engine.transcribe(samples)
            asr_s += time.perf_counter() - started
            for seg in raw:
                start, end = window.span_to_original(seg.start, seg.end)
                heard.append(_relocated(seg, start, end, speaker))
        dropped: dict[str, int] = {}
        if self._guards is not None:
            heard, dropped = guards.keep(heard, found.voiced, found.frame_s, self._guards)
        speech_s = sum(region.duration_s for region in found.regions)
        log.debug(
            "%.1f s of audio: %d speech regions (%.1f s) in %d windows, asr %.2f s, "
            "%d segments dropped by the guards",
            audio.duration_s, len(found.regions), speech_s, len(windows), asr_s,
            sum(dropped.values()),
        )
        return _Transcript(heard, speech_s, asr_s, dropped)


def _relocated(seg: Segment, start: float, end: float, speaker: str) -> Segment:
    """``seg`` moved to [start, end] of the recording and given ``speaker`` (keeps its kind)."""
    return dataclasses.replace(seg, start=start, end=end,
                               speaker=speaker if speaker != UNKNOWN else seg.speaker)
