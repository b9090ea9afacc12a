"""Short utterances at whisper.cpp's full audio context lose no words against bare whisper.cpp
with the same weights, although the gateway has a vocabulary prompt: a short window is decoded
without it (the prompt on short windows cost words: development WER 0.211 -> 0.239); a greedy
decode that fails is decoded again at a higher temperature, as bare whisper.cpp does. Short
windows run beam search (``speech.short_beam_size``), full ones stay greedy."""

from __future__ import annotations

import csv
import importlib
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import synthesize

from gateway.config import Config
from gateway.speech.audio import Audio, load_audio
from gateway.speech.factory import primed_competitors, vocabulary_prompt
from gateway.speech.guards import longest_repeat
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.wer import normalise
from gateway.speech.whispercpp import WhisperCppEngine

pytestmark = pytest.mark.slow

DEV = Path(__file__).parents[1] / ".." / "shared" / "data" / "dev-utterances.tsv"
# development sentences the pipeline got wrong while bare whisper.cpp got them right or better
# ("think I'm out it", "I'm gonna start", ...)
IDS = ("d10", "d13", "d15", "d28")
VOICES = ("en-us+f3", "en-us", "en-us+f4", "en-gb+m3")


def full_context_pipeline(model_path: Path) -> SpeechPipeline:
    """The pipeline with the product's speech defaults (prompt of the built-in names), except
    that every window runs at full context (``speech.shrink_window_below_s = 0``)."""
    config = Config()
    engine = WhisperCppEngine(
        model_path, threads=1, initial_prompt=vocabulary_prompt([], primed_competitors(config)),
        beam_size=config.speech.beam_size, shrink_ctx_below_s=0.0)
    return SpeechPipeline(engine, vad_aggressiveness=config.speech.vad_aggressiveness)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, np.ndarray]]:
    with DEV.open(newline="", encoding="utf-8") as f:
        texts = {row["id"]: row["text"] for row in csv.DictReader(f, delimiter="\t")}
    directory = tmp_path_factory.mktemp("short")
    return [(texts[i], load_audio(synthesize(texts[i], directory / f"{i}.wav", voice)).samples)
            for i, voice in zip(IDS, VOICES, strict=True)]


def test_short_clips_at_full_context_lose_no_words_against_bare_whispercpp(
    model_path: Path, clips: list[tuple[str, np.ndarray]]
) -> None:
    from pywhispercpp.model import Model

    bare = Model(str(model_path), n_threads=1, language="en", print_progress=False,
                 print_realtime=False, redirect_whispercpp_logs_to=None)
    pipeline = full_context_pipeline(model_path)
    for text, samples in clips:
        heard = " ".join(s.text for s in pipeline.transcribe(Audio(samples)))
        bare_text = " ".join(s.text for s in bare.transcribe(samples))
        assert normalise(heard) == normalise(bare_text), (text, heard, bare_text)



@pytest.fixture(scope="module")
def looping_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, np.ndarray]:
    """Development sentence d12 built as bench/asr_stages.py builds it (quiet edges, a faint
    floor following the eleven sentences before it): tiny.en's greedy decode loops on it at
    full context."""
    sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
    asr_stages = importlib.import_module("asr_stages")
    with DEV.open(newline="", encoding="utf-8") as f:
        texts = [row["text"] for row in csv.DictReader(f, delimiter="\t")][:12]
    clip = asr_stages.synthesize(texts, tmp_path_factory.mktemp("loop"))[-1]
    return clip.text, clip.clean


def test_a_failed_decode_is_decoded_again_warmer_as_bare_whispercpp_does(
    model_path: Path, looping_clip: tuple[str, np.ndarray]
) -> None:
    from pywhispercpp.model import Model

    text, samples = looping_clip
    greedy = WhisperCppEngine(model_path, threads=1, temperature_inc=0.0)
    looped = " ".join(s.text for s in greedy.transcribe(samples))
    assert longest_repeat(looped) > 3, looped  # the failure is there
    heard = [" ".join(s.text for s in WhisperCppEngine(model_path, threads=1).transcribe(samples))
             for _ in range(2)]
    assert heard[0] == heard[1]  # whisper.cpp seeds its sampler: the same words every time
    assert longest_repeat(heard[0]) <= 3, heard[0]
    bare = Model(str(model_path), n_threads=1, language="en", print_progress=False,
                 print_realtime=False, redirect_whispercpp_logs_to=None)
    bare_text = " ".join(s.text for s in bare.transcribe(samples))
    assert normalise(heard[0]) == normalise(bare_text), (text, heard[0], bare_text)


def test_short_windows_run_beam_search_and_full_windows_stay_greedy(
    model_path: Path, clips: list[tuple[str, np.ndarray]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One loaded model: the decoding whisper.cpp really runs is chosen per window."""
    import _pywhispercpp as bindings

    ran: list[tuple[str, int]] = []
    whisper_full = bindings.whisper_full

    def recording(ctx: object, params: object, audio: np.ndarray, size: int) -> int:
        ran.append((str(params.strategy).rsplit("_", 1)[-1],  # type: ignore[attr-defined]
                    params.beam_search["beam_size"]))  # type: ignore[attr-defined]
        return int(whisper_full(ctx, params, audio, size))

    monkeypatch.setattr(bindings, "whisper_full", recording)
    engine = WhisperCppEngine(model_path, threads=1, beam_size=1, short_beam_size=4,
                              shrink_ctx_below_s=20.0, temperature_inc=0.0)
    text, short = clips[0]
    long = np.concatenate([short, np.zeros(22 * 16000, np.float32)])  # a full 22 s window
    heard = {name: " ".join(s.text for s in engine.transcribe(samples))
             for name, samples in (("short", short), ("long", long), ("again", short))}
    assert ran == [("SEARCH", 4), ("GREEDY", -1), ("SEARCH", 4)]
    assert heard["short"] == heard["again"], heard  # no state left over from the long window
    assert normalise(heard["short"]) and normalise(heard["long"]), (text, heard)
