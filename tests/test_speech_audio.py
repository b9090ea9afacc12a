"""Decoding, downmixing and resampling audio into 16 kHz mono float32."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import synthesize
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.speech.audio import SAMPLE_RATE, Resampler, load_audio, pcm16_to_audio, resample
from gateway.speech.errors import AudioError


def tone(freq: float, rate: int, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[np.argmax(spectrum)])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))


def test_wav_from_espeak_decodes_to_16k_mono(tmp_path: Path) -> None:
    path = synthesize("The price is too high for us.", tmp_path / "speech.wav")
    audio = load_audio(path)
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32
    assert audio.samples.ndim == 1
    assert audio.duration_s == pytest.approx(soundfile.info(str(path)).duration, abs=1e-3)
    assert 0.01 < rms(audio.samples) < 1.0


@pytest.mark.parametrize("rate", [8_000, 22_050, 44_100, 48_000])
def test_resampling_keeps_length_level_and_frequency(tmp_path: Path, rate: int) -> None:
    path = tmp_path / f"tone-{rate}.flac"
    soundfile.write(str(path), tone(1000.0, rate, 2.0), rate, subtype="PCM_16")
    audio = load_audio(path)
    assert len(audio.samples) == math.ceil(round(rate * 2.0) * SAMPLE_RATE / rate)
    assert peak_hz(audio.samples, SAMPLE_RATE) == pytest.approx(1000.0, abs=1.0)
    assert rms(audio.samples[800:-800]) == pytest.approx(0.5 / math.sqrt(2), rel=0.01)


def test_downsampling_removes_what_16k_cannot_hold() -> None:
    out = resample(tone(11_000.0, 48_000, 1.0), 48_000, SAMPLE_RATE)
    assert rms(out[500:-500]) < 1e-3


def test_stereo_is_downmixed(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    left, right = tone(440.0, 48_000, 1.0), tone(1500.0, 48_000, 1.0)
    soundfile.write(str(path), np.stack([left, right], axis=1), 48_000, subtype="PCM_16")
    audio = load_audio(path)
    spectrum = np.abs(np.fft.rfft(audio.samples))
    freqs = np.fft.rfftfreq(len(audio.samples), 1 / SAMPLE_RATE)
    top = sorted(float(f) for f in freqs[np.argsort(spectrum)[-2:]])
    assert top == pytest.approx([440.0, 1500.0], abs=1.0)
    assert rms(audio.samples[800:-800]) == pytest.approx(0.25, rel=0.02)


def test_ogg_opus_decodes(tmp_path: Path) -> None:
    path = tmp_path / "tone.opus"
    soundfile.write(str(path), tone(700.0, 48_000, 2.0), 48_000, format="OGG", subtype="OPUS")
    audio = load_audio(path)
    assert audio.duration_s == pytest.approx(2.0, abs=0.05)
    assert peak_hz(audio.samples, SAMPLE_RATE) == pytest.approx(700.0, abs=2.0)


def test_text_file_named_wav_is_an_audio_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("meeting notes, not audio\n")
    with pytest.raises(AudioError, match="not a readable audio file"):
        load_audio(path)


def test_missing_and_empty_files_are_audio_errors(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        load_audio(tmp_path / "absent.wav")
    empty = tmp_path / "empty.wav"
    soundfile.write(str(empty), np.zeros(0, dtype=np.float32), 16_000, subtype="PCM_16")
    with pytest.raises(AudioError, match="no audio samples"):
        load_audio(empty)


def test_pcm16_round_trip_and_downmix() -> None:
    left = (tone(440.0, 16_000, 0.5) * 32767).astype("<i2")
    frames = np.stack([left, left], axis=1)
    audio = pcm16_to_audio(frames.tobytes(), 16_000, 2)
    assert np.allclose(audio.samples, left / 32768.0, atol=1e-6)
    assert pcm16_to_audio(left.tobytes(), 48_000, 1).duration_s == pytest.approx(0.5 / 3, abs=1e-3)


@pytest.mark.parametrize(
    ("pcm", "rate", "channels", "message"),
    [
        (b"\x00\x01\x02", 16_000, 1, "whole number of frames"),
        (b"\x00\x00" * 3, 16_000, 2, "whole number of frames"),
        (b"\x00\x00" * 8, 1_000, 1, "unsupported sample rate"),
        (b"\x00\x00" * 8, 16_000, 0, "unsupported channel count"),
        (b"", 16_000, 1, "no audio samples"),
    ],
)
def test_bad_pcm16_is_an_audio_error(pcm: bytes, rate: int, channels: int, message: str) -> None:
    with pytest.raises(AudioError, match=message):
        pcm16_to_audio(pcm, rate, channels)


@settings(max_examples=40, deadline=None)
@given(
    rate=st.sampled_from([8_000, 11_025, 22_050, 44_100, 48_000]),
    n=st.integers(0, 6_000),
    cuts=st.lists(st.integers(0, 6_000), max_size=6),
)
def test_streaming_resampler_does_not_depend_on_block_boundaries(
    rate: int, n: int, cuts: list[int]
) -> None:
    signal = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    whole = resample(signal, rate, SAMPLE_RATE)
    assert len(whole) == math.ceil(n * SAMPLE_RATE / rate)
    resampler = Resampler(rate, SAMPLE_RATE)
    bounds = [0, *sorted(c for c in cuts if c <= n), n]
    parts = [resampler.process(signal[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    streamed = np.concatenate([*parts, resampler.flush()])
    np.testing.assert_allclose(streamed, whole, atol=1e-6)
