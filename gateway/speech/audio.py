"""Decoding audio into the one form the pipeline uses: float32 mono samples at 16 kHz.

Files are decoded block by block and resampled as they stream, so the peak memory is the
16 kHz result plus one block, whatever the source rate and channel count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from gateway.speech.errors import AudioError

SAMPLE_RATE = 16_000
_BLOCK_S = 10
_ZERO_CROSSINGS = 8
_ROLLOFF = 0.9
_KAISER_BETA = 8.0
_CHUNK = 8192


@dataclass(frozen=True, eq=False)
class Audio:
    """Mono float32 samples in [-1, 1] at ``sample_rate`` (always 16 kHz from this module)."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.samples) / self.sample_rate


class Resampler:
    """A streaming polyphase resampler (Kaiser-windowed sinc, anti-aliased, zero delay).

    Feed blocks with :meth:`process`, then call :meth:`flush` once; the concatenated output
    has ``ceil(n_in * dst / src)`` samples and is identical however the input was split.
    """

    def __init__(self, src_rate: int, dst_rate: int) -> None:
        g = math.gcd(src_rate, dst_rate)
        self._up, self._down = dst_rate // g, src_rate // g
        self._taps = _phase_table(self._up, self._down)
        self._k = (self._taps.shape[1] - 1) // 2
        self._buf = np.zeros(self._k, dtype=np.float32)
        self._buf_start = -self._k  # absolute input index of self._buf[0]
        self._n_in = 0
        self._n_out = 0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Take the next input block; return every output sample it completes."""
        self._buf = np.concatenate([self._buf, block.astype(np.float32, copy=False)])
        self._n_in += len(block)
        # output n needs inputs up to floor(n * down / up) + k
        end = -(-(self._n_in - self._k) * self._up // self._down)
        return self._emit(end)

    def flush(self) -> np.ndarray:
        """Return the remaining output, treating the signal as zero past its end."""
        self._buf = np.concatenate([self._buf, np.zeros(self._k + 1, dtype=np.float32)])
        return self._emit(-(-self._n_in * self._up // self._down))

    def _emit(self, end: int) -> np.ndarray:
        parts = [self._range(n0, min(n0 + _CHUNK, end)) for n0 in range(self._n_out, end, _CHUNK)]
        self._n_out = max(self._n_out, end)
        keep_from = self._n_out * self._down // self._up - self._k - self._buf_start
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf_start += keep_from
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def _range(self, n0: int, n1: int) -> np.ndarray:
        n = np.arange(n0, n1, dtype=np.int64)
        base = n * self._down // self._up
        rows = sliding_window_view(self._buf, self._taps.shape[1])[base - self._k - self._buf_start]
        out: np.ndarray
        if self._up == 1:
            out = rows @ self._taps[0]
        else:
            out = np.einsum("ij,ij->i", rows, self._taps[n * self._down % self._up])
        return out.astype(np.float32, copy=False)


def _phase_table(up: int, down: int) -> np.ndarray:
    """Filter taps per output phase: row r weights inputs ``base - k .. base + k``."""
    wider = max(up, down)
    half = _ZERO_CROSSINGS * wider / _ROLLOFF  # support, in samples of the up-sampled rate
    k = math.ceil(half / up)
    offsets = np.arange(up)[:, None] - np.arange(-k, k + 1)[None, :] * up
    inside = np.clip(1.0 - (offsets / half) ** 2, 0.0, None)
    window = np.i0(_KAISER_BETA * np.sqrt(inside)) / np.i0(_KAISER_BETA)
    taps = np.sinc(offsets / wider * _ROLLOFF) * np.where(inside > 0, window, 0.0)
    taps /= taps.sum(axis=1, keepdims=True)
    return taps.astype(np.float32)


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Resample a whole mono signal from ``src_rate`` to ``dst_rate``."""
    if src_rate == dst_rate:
        return samples.astype(np.float32, copy=False)
    resampler = Resampler(src_rate, dst_rate)
    return np.concatenate([resampler.process(samples), resampler.flush()])


def _to_audio(blocks: Iterable[np.ndarray], src_rate: int, what: str) -> Audio:
    """Downmix 2-D (frames, channels) blocks to mono and resample them to 16 kHz."""
    resampler = None if src_rate == SAMPLE_RATE else Resampler(src_rate, SAMPLE_RATE)
    parts = []
    for block in blocks:
        mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
        parts.append(resampler.process(mono) if resampler else mono.astype(np.float32))
    if not any(len(part) for part in parts):
        raise AudioError(f"{what} contains no audio samples")
    if resampler:
        parts.append(resampler.flush())
    return Audio(np.concatenate(parts))


def _check_format(sample_rate: int, channels: int, what: str) -> None:
    if not 4_000 <= sample_rate <= 192_000:
        raise AudioError(f"{what}: unsupported sample rate {sample_rate} Hz")
    if not 1 <= channels <= 32:
        raise AudioError(f"{what}: unsupported channel count {channels}")


def load_audio(path: Path) -> Audio:
    """Decode a WAV, FLAC or Ogg (Vorbis/Opus) file into 16 kHz mono float32 samples."""
    import soundfile

    if not path.is_file():
        raise AudioError(f"{path}: no such file")
    try:
        with soundfile.SoundFile(str(path)) as sound:
            _check_format(sound.samplerate, sound.channels, str(path))
            blocks = sound.blocks(
                blocksize=sound.samplerate * _BLOCK_S, dtype="float32", always_2d=True
            )
            return _to_audio(blocks, sound.samplerate, str(path))
    except soundfile.SoundFileError as err:
        raise AudioError(f"{path}: not a readable audio file ({err})") from err


def pcm16_to_channels(pcm: bytes, sample_rate: int, channels: int) -> list[Audio]:
    """Split interleaved little-endian PCM16 into one 16 kHz float32 :class:`Audio` per channel."""
    _check_format(sample_rate, channels, "PCM16 audio")
    if len(pcm) % (2 * channels):
        raise AudioError(f"PCM16 audio: {len(pcm)} bytes is not a whole number of frames")
    frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels)
    return [
        _to_audio([frames[:, [c]].astype(np.float32) / 32768.0], sample_rate, "PCM16 audio")
        for c in range(channels)
    ]


def pcm16_to_audio(pcm: bytes, sample_rate: int, channels: int) -> Audio:
    """Turn interleaved little-endian signed 16-bit PCM into 16 kHz mono float32 samples."""
    _check_format(sample_rate, channels, "PCM16 audio")
    if len(pcm) % (2 * channels):
        raise AudioError(f"PCM16 audio: {len(pcm)} bytes is not a whole number of frames")
    frames = np.frombuffer(pcm, dtype="<i2").reshape(-1, channels).astype(np.float32) / 32768.0
    return _to_audio([frames], sample_rate, "PCM16 audio")
