"""The speech pipeline end to end, with a real whisper.cpp model installed through the catalogue."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import sox_noise, synthesize

from gateway.intel.types import Segment
from gateway.speech import catalogue
from gateway.speech.analyze import analyze_files
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio
from gateway.speech.engine import EngineInfo
from gateway.speech.errors import EngineError
from gateway.speech.pipeline import PipelineResult, SpeechPipeline
from gateway.speech.vad import Region
from gateway.speech.whispercpp import WhisperCppEngine, clean_text

# (text, key word, tag) in speaking order; the pause before each utterance in seconds
SCRIPT = [
    (
        1.0,
        "Just so you know, this conversation is being recorded so I can follow up.",
        "recorded",
        "consent.disclosure",
    ),
    (2.0, "The price is just too high for us.", "price", "objection.price"),
    (12.0, "We already got a proposal from Tesla for the panels.", "tesla", "competitor.mention"),
    (2.5, "We need some time to think about it.", "think", "objection.timing"),
    (2.0, "You can reach me at five five five, two one two, four three six eight.", "reach", None),
]


class CountingEngine:
    """Passes calls through to a real engine and counts them."""

    def __init__(self, inner: WhisperCppEngine) -> None:
        self.inner = inner
        self.info: EngineInfo = inner.info
        self.calls: list[int] = []

    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        self.calls.append(len(samples))
        return self.inner.transcribe(samples)


@dataclass
class Conversation:
    path: Path
    audio: Audio
    spans: list[Region]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> WhisperCppEngine:
    models = tmp_path_factory.mktemp("models")
    catalogue.install(models, name="tiny.en", quants=("q8_0",))
    # one thread: with two on a busy two-core box, whisper.cpp's spinning workers crawl
    return WhisperCppEngine(catalogue.resolve(models, "tiny.en", "q8_0"), threads=1)


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> Conversation:
    directory = tmp_path_factory.mktemp("conversation")
    parts, spans, t = [], [], 0.0
    for i, (pause, text, _, _) in enumerate(SCRIPT):
        voice = "en-us" if i % 2 == 0 else "en-us+f3"
        speech = load_audio(synthesize(text, directory / f"u{i}.wav", voice=voice)).samples
        parts += [np.zeros(round(pause * SAMPLE_RATE), dtype=np.float32), speech]
        spans.append(Region(t + pause, t + pause + len(speech) / SAMPLE_RATE))
        t += pause + len(speech) / SAMPLE_RATE
    parts.append(np.zeros(SAMPLE_RATE, dtype=np.float32))
    path = directory / "conversation.wav"
    soundfile.write(str(path), np.concatenate(parts), SAMPLE_RATE, subtype="PCM_16")
    return Conversation(path, load_audio(path), spans)


@dataclass
class Transcribed:
    segments: list[Segment]
    calls: list[int]


@pytest.fixture(scope="module")
def transcribed(engine: WhisperCppEngine, conversation: Conversation) -> Transcribed:
    counting = CountingEngine(engine)
    return Transcribed(SpeechPipeline(counting).transcribe(conversation.audio), counting.calls)


@pytest.fixture(scope="module")
def processed(engine: WhisperCppEngine, conversation: Conversation) -> PipelineResult:
    return SpeechPipeline(engine).process(conversation.audio)


def near(start: float, end: float, span: Region, slack: float = 1.0) -> bool:
    """Does [start, end] begin and end within ``slack`` of the spoken span?"""
    return abs(start - span.start_s) <= slack and abs(end - span.end_s) <= slack


@pytest.mark.slow
def test_transcript_has_the_key_words_at_plausible_times(
    transcribed: Transcribed, conversation: Conversation
) -> None:
    segments = transcribed.segments
    assert segments == sorted(segments, key=lambda s: s.start)
    for segment in segments:
        assert 0.0 <= segment.start <= segment.end <= conversation.audio.duration_s + 0.01
    for (_, _, word, _), span in zip(SCRIPT, conversation.spans, strict=True):
        hits = [s for s in segments if word in s.text.lower()]
        assert hits, f"{word!r} not heard in {[s.text for s in segments]}"
        assert any(near(s.start, s.end, span) for s in hits), (word, span, hits)


@pytest.mark.slow
def test_process_tags_and_redacts(processed: PipelineResult, conversation: Conversation) -> None:
    for (_, _, _, tag), span in zip(SCRIPT, conversation.spans, strict=True):
        if tag is None:
            continue
        found = [t for t in processed.tags if t.tag == tag]
        assert found, f"{tag} missing from {[t.tag for t in processed.tags]}"
        assert any(near(t.start, t.end, span) for t in found), (tag, span, found)
    assert "[PHONE]" in processed.text
    assert "four three six eight" not in processed.text.lower()
    assert processed.identifiers
    assert processed.duration_s == pytest.approx(conversation.audio.duration_s)
    assert 0 < processed.speech_s < processed.duration_s - 15
    assert 0 < processed.asr_s <= processed.total_s


@pytest.mark.slow
def test_silence_and_noise_never_reach_the_engine(engine: WhisperCppEngine, tmp_path: Path) -> None:
    counting = CountingEngine(engine)
    pipeline = SpeechPipeline(counting)
    assert pipeline.transcribe(Audio(np.zeros(5 * SAMPLE_RATE, dtype=np.float32))) == []
    noise = sox_noise("whitenoise", 3, 0.05, tmp_path / "noise.wav")
    result = pipeline.process(load_audio(noise))
    assert result.segments == () and result.tags == () and result.speech_s == 0
    assert counting.calls == []


@pytest.mark.slow
def test_pipeline_calls_the_engine_once_per_30_s_window(transcribed: Transcribed) -> None:
    # ~22 s of speech in ~37 s of audio: the long pause is left out and all fits one window
    assert len(transcribed.calls) == 1
    assert 0 < transcribed.calls[0] <= 30 * SAMPLE_RATE


@pytest.mark.slow
def test_analyze_prints_one_json_line_per_file(
    engine: WhisperCppEngine, conversation: Conversation, tmp_path: Path
) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("not audio at all\n")
    files = [str(conversation.path), str(tmp_path / "missing.wav"), str(not_audio)]
    out = io.StringIO()
    assert analyze_files(files, SpeechPipeline(engine), out) == 1
    good, missing, bad = (json.loads(line) for line in out.getvalue().splitlines())

    assert set(good) == {"file", "text", "duration_s", "segments", "tags", "engine", "timing",
                         "talk", "dropped", "tagger"}
    assert good["tagger"] == "rules"  # SpeechPipeline(engine) has no semantic tagger
    assert good["talk"]["speakers"] == ["unknown"] and good["dropped"] == {}
    assert good["file"] == files[0]
    assert good["text"] == " ".join(s["text"] for s in good["segments"])
    assert "tesla" in good["text"].lower() and "[PHONE]" in good["text"]
    assert good["duration_s"] == pytest.approx(conversation.audio.duration_s, abs=0.01)
    assert all(set(s) == {"start", "end", "text", "speaker", "sentiment"}
               for s in good["segments"])
    assert {s["speaker"] for s in good["segments"]} == {"unknown"}
    assert good["tags"] and all({"tag", "start", "end", "text"} <= set(t) for t in good["tags"])
    assert good["engine"] == {
        "name": "whisper.cpp",
        "model_path": engine.info.model_path,
        "threads": 1,
    }
    assert set(good["timing"]) == {"total_s", "asr_s"}
    assert 0 < good["timing"]["asr_s"] <= good["timing"]["total_s"]

    for record, path in ((missing, files[1]), (bad, files[2])):
        assert record == {"file": path, "error": record["error"]}
        assert record["error"]["type"] == "AudioError"
        assert path in record["error"]["message"]


@pytest.mark.slow
def test_analyze_exit_code_is_zero_when_every_file_works(
    engine: WhisperCppEngine, tmp_path: Path
) -> None:
    files = [
        str(synthesize("The roof faces south, which is perfect for solar.", tmp_path / "one.wav")),
        str(synthesize("Do you offer any financing options?", tmp_path / "two.wav")),
    ]
    out = io.StringIO()
    assert analyze_files(files, SpeechPipeline(engine), out) == 0
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["file"] for r in records] == files
    assert "solar" in records[0]["text"].lower() and "financing" in records[1]["text"].lower()


@pytest.mark.parametrize("flags", [(), ("--json",)])
def test_analyze_command_prints_json_with_or_without_the_old_flag(
    engine: WhisperCppEngine, tmp_path: Path, flags: tuple[str, ...]
) -> None:
    missing = tmp_path / "missing.wav"
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "analyze", str(missing), *flags,
         "--model", engine.info.model_path],
        capture_output=True, text=True, check=False)
    assert result.returncode == 1, result.stderr
    (record,) = (json.loads(line) for line in result.stdout.splitlines())
    assert record["file"] == str(missing) and record["error"]["type"] == "AudioError"


def test_engine_refuses_missing_and_non_model_files(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="cannot read"):
        WhisperCppEngine(tmp_path / "absent.bin", threads=1)
    bogus = tmp_path / "bogus.bin"
    bogus.write_bytes(b"definitely not ggml")
    with pytest.raises(EngineError, match="not a whisper.cpp"):
        WhisperCppEngine(bogus, threads=1)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("[BLANK_AUDIO]", ""),
        ("(upbeat music)", ""),
        (" ... ", ""),
        ("♪♪", ""),
        ("*laughs*", ""),
        ("Hello there. [BLANK_AUDIO]", "Hello there."),
        ("The price is too high.", "The price is too high."),
        # a prompted model may bracket a whole sentence: that is speech, not an annotation
        ("(Just so you know, this call is recorded.) Fine.",
         "Just so you know, this call is recorded. Fine."),
    ],
)
def test_non_speech_annotations_are_dropped(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean
