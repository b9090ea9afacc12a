"""Real espeak-ng speech in several voices, with and without sox noise, through the real engine;
silence and noise give no text; two-channel badges give speakers and talk metrics."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import sox_noise, synthesize

from gateway.intel.types import Segment
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio, pcm16_to_channels
from gateway.speech.engine import EngineInfo
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.whispercpp import WhisperCppEngine

pytestmark = pytest.mark.slow

VOICES = ("en-us", "en-us+f3", "en-gb+m3")
SENTENCES = {
    "en-us": ("We already got a proposal from Tesla for the panels.", {"proposal", "tesla"}),
    "en-us+f3": ("Do you offer any financing options for the system?", {"financing", "options"}),
    "en-gb+m3": ("The price is just too high for us this year.", {"price", "high", "year"}),
}


class CountingEngine:
    """Passes calls through to a real engine and counts them."""

    def __init__(self, inner: WhisperCppEngine) -> None:
        self.inner = inner
        self.info: EngineInfo = inner.info
        self.calls = 0

    def transcribe(self, samples: np.ndarray) -> list[Segment]:
        self.calls += 1
        return list(self.inner.transcribe(samples))


@pytest.fixture(scope="module")
def engine(model_path: Path) -> WhisperCppEngine:
    return WhisperCppEngine(model_path, threads=1, shrink_ctx_below_s=20.0)


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    directory = tmp_path_factory.mktemp("voices")
    return {
        voice: load_audio(synthesize(text, directory / f"{voice}.wav", voice)).samples
        for voice, (text, _) in SENTENCES.items()
    }


def words(segments: list[Segment] | tuple[Segment, ...]) -> set[str]:
    return set(re.findall(r"[a-z]+", " ".join(s.text for s in segments).lower()))


@pytest.mark.parametrize("voice", VOICES)
@pytest.mark.parametrize("noisy", [False, True], ids=["clean", "pink-noise"])
def test_voices_are_understood_with_and_without_noise(
    engine: WhisperCppEngine, speech: dict[str, np.ndarray], tmp_path: Path, voice: str,
    noisy: bool,
) -> None:
    samples = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), speech[voice],
                              np.zeros(SAMPLE_RATE // 2, np.float32)])
    if noisy:  # pink noise about 15 dB below the speech
        seconds = len(samples) / SAMPLE_RATE + 0.1
        noise = load_audio(sox_noise("pinknoise", seconds, 1.0, tmp_path / "n.wav")).samples
        noise = noise[: len(samples)]
        gain = np.sqrt(np.mean(speech[voice] ** 2) / np.mean(noise**2)) * 10 ** (-15 / 20)
        samples = samples + gain * noise
    result = SpeechPipeline(engine).process(Audio(samples.astype(np.float32)))
    assert SENTENCES[voice][1] <= words(result.segments), result.text
    assert result.dropped == {}  # the guards leave real speech alone


@pytest.mark.parametrize(
    ("kind", "volume"),
    [("whitenoise", 0.3), ("pinknoise", 0.6), ("brownnoise", 0.9), ("whitenoise", 0.02)],
)
def test_noise_gives_no_text(
    engine: WhisperCppEngine, tmp_path: Path, kind: str, volume: float
) -> None:
    noise = load_audio(sox_noise(kind, 6, volume, tmp_path / "noise.wav")).samples
    result = SpeechPipeline(engine).process(Audio(noise))
    assert result.segments == () and result.tags == (), result.text


def test_silence_gives_no_text_and_costs_no_engine_call(engine: WhisperCppEngine) -> None:
    counting = CountingEngine(engine)
    result = SpeechPipeline(counting).process(Audio(np.zeros(10 * SAMPLE_RATE, np.float32)))
    assert result.segments == () and counting.calls == 0


def test_silero_vad_keeps_loud_noise_away_from_the_engine(
    engine: WhisperCppEngine, speech: dict[str, np.ndarray], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from gateway.speech.vad import SileroVad

    counting = CountingEngine(engine)
    pipeline = SpeechPipeline(counting, silero=SileroVad())
    noise = load_audio(sox_noise("brownnoise", 6, 0.9, tmp_path / "noise.wav")).samples
    assert pipeline.process(Audio(noise)).segments == ()
    assert counting.calls == 0
    heard = pipeline.process(Audio(np.concatenate([np.zeros(8000, np.float32),
                                                   speech["en-us"]])))
    assert SENTENCES["en-us"][1] <= words(heard.segments)


def two_channel_pcm(turns: list[tuple[int, np.ndarray]], pause_s: float = 0.7) -> bytes:
    """Interleaved PCM16: each turn on its channel (0 rep, 1 customer), silence on the other."""
    length = sum(len(t) for _, t in turns) + round(pause_s * SAMPLE_RATE) * (len(turns) + 1)
    stereo = np.zeros((length, 2), np.float32)
    at = round(pause_s * SAMPLE_RATE)
    for channel, samples in turns:
        stereo[at : at + len(samples), channel] = samples
        at += len(samples) + round(pause_s * SAMPLE_RATE)
    return (np.clip(stereo, -1, 1) * 32767).astype("<i2").tobytes()


def test_two_channel_badge_gives_speakers_and_talk_ratio(
    engine: WhisperCppEngine, tmp_path: Path
) -> None:
    rep_lines = ["Just so you know, this conversation is being recorded.",
                 "Would you like to see the monthly payment options?"]
    customer_lines = ["We already got a quote from Tesla."]
    rep = [load_audio(synthesize(t, tmp_path / f"r{i}.wav", "en-us")).samples
           for i, t in enumerate(rep_lines)]
    customer = [load_audio(synthesize(t, tmp_path / f"c{i}.wav", "en-us+f3")).samples
                for i, t in enumerate(customer_lines)]
    pcm = two_channel_pcm([(0, rep[0]), (1, customer[0]), (0, rep[1])])
    result = SpeechPipeline(engine).process_channels(pcm16_to_channels(pcm, SAMPLE_RATE, 2))

    by_speaker = {sp: words([s for s in result.segments if s.speaker == sp])
                  for sp in ("rep", "customer")}
    assert {"recorded", "payment"} <= by_speaker["rep"]
    assert "tesla" in by_speaker["customer"] and "recorded" not in by_speaker["customer"]
    assert {s.speaker for s in result.segments} == {"rep", "customer"}
    tags = {(t.tag, s.speaker) for t in result.tags for s in result.segments
            if s.start <= t.start < s.end}
    assert ("competitor.mention", "customer") in tags
    assert ("consent.disclosure", "rep") in tags

    spoken_rep = sum(len(r) for r in rep) / SAMPLE_RATE
    spoken_customer = sum(len(c) for c in customer) / SAMPLE_RATE
    expected = spoken_rep / (spoken_rep + spoken_customer)
    assert result.talk.known and result.talk.rep_talk_ratio is not None
    assert abs(result.talk.rep_talk_ratio - expected) < 0.12, (result.talk, expected)
    assert result.talk.questions["rep"] == 1 and result.talk.questions["customer"] == 0
    assert result.talk.longest_monologue_speaker == "rep"
    assert len(result.sentiments) == len(result.segments)


def test_single_channel_says_the_speaker_is_unknown(
    engine: WhisperCppEngine, speech: dict[str, np.ndarray]
) -> None:
    result = SpeechPipeline(engine).process(Audio(speech["en-us"]))
    assert result.segments and {s.speaker for s in result.segments} == {"unknown"}
    assert not result.talk.known and result.talk.rep_talk_ratio is None


def test_a_short_window_after_a_long_one_is_still_right(
    model_path: Path, speech: dict[str, np.ndarray]
) -> None:
    """whisper.cpp keeps stale encoder state when audio_ctx shrinks; the engine must not."""
    fresh = WhisperCppEngine(model_path, threads=1, shrink_ctx_below_s=20.0)
    long_window = np.concatenate([speech[v] for v in VOICES] * 3)
    long_window = np.concatenate([long_window, np.zeros(max(0, 28 * SAMPLE_RATE
                                                            - len(long_window)), np.float32)])
    assert fresh.transcribe(long_window)
    short = fresh.transcribe(speech["en-us"])
    text = " ".join(s.text for s in short)
    assert SENTENCES["en-us"][1] <= words(short), text
    assert text.lower().count("tesla") == 1, text
    # cheap again (a fresh context sized for it), and word for word what a fresh model hears
    assert fresh._widest < 1500
    unused = WhisperCppEngine(model_path, threads=1, shrink_ctx_below_s=20.0)
    assert [s.text for s in short] == [s.text for s in unused.transcribe(speech["en-us"])]


def test_a_prompted_window_is_cut_into_its_sentences(
    model_path: Path, speech: dict[str, np.ndarray], tmp_path: Path
) -> None:
    """With the vocabulary prompt whisper.cpp writes one segment per 30 s window; the engine
    cuts it at sentence ends, in order, each within the window; loud noise stays silent."""
    from gateway.config import Config
    from gateway.speech.factory import primed_competitors, vocabulary_prompt

    prompt = vocabulary_prompt(["Powerwall"], primed_competitors(Config()))
    prompted = WhisperCppEngine(model_path, threads=1, initial_prompt=prompt,
                                shrink_ctx_below_s=20.0)
    gap = np.zeros(SAMPLE_RATE, np.float32)
    window = np.concatenate([part for voice in VOICES for part in (speech[voice], gap)] * 2)
    window = np.concatenate([window, np.zeros(max(0, 24 * SAMPLE_RATE - len(window)),
                                              np.float32)])
    heard = prompted.transcribe(window)
    assert len(heard) >= 4, [h.text for h in heard]  # six sentences spoken, not one segment
    assert all(h.text.rstrip()[-1] in ".?!" for h in heard[:-1]), [h.text for h in heard]
    assert all(a.end <= b.start + 1e-6 and a.start < a.end
               for a, b in zip(heard, heard[1:], strict=False))
    assert SENTENCES["en-us"][1] | SENTENCES["en-gb+m3"][1] <= words(heard)
    noise = load_audio(sox_noise("whitenoise", 30, 0.5, tmp_path / "n.wav")).samples
    assert SpeechPipeline(prompted).process(Audio(noise)).text == ""


def test_split_sentences_shares_out_the_span_by_length() -> None:
    from gateway.speech.engine import Heard
    from gateway.speech.whispercpp import split_sentences

    whole = Heard(10.0, 20.0, "One two three. Four five six seven eight nine ten! Eleven?",
                  probability=0.8)
    parts = split_sentences(whole)
    assert [p.text for p in parts] == ["One two three.", "Four five six seven eight nine ten!",
                                      "Eleven?"]
    assert parts[0].start == 10.0 and parts[-1].end == pytest.approx(20.0)
    assert parts[1].end - parts[1].start > parts[0].end - parts[0].start > 0
    assert all(p.probability == 0.8 for p in parts)
    assert split_sentences(Heard(0.0, 1.0, "No end")) == [Heard(0.0, 1.0, "No end")]
