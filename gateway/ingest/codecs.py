"""Badge audio into the spool's one format: PCM16 little-endian, channels interleaved.

PCM16 passes through at its own rate (the transcription worker resamples). Opus packets are
decoded by libopus (through ``opuslib``, imported only when an Opus session starts) straight to
16 kHz, so the spool and the worker never see Opus. Two-channel audio stays two channels.
Also here: reading the packets of an Ogg/Opus file and encoding PCM16 to Opus, for the badge
simulator.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gateway.protocol.errors import FrameError
from gateway.protocol.frames import Codec
from gateway.protocol.opus import packet_duration_ms

OPUS_RATE = 16000  #: libopus decodes straight to this rate; no resampling needed
MAX_OPUS_FRAME_MS = 120


class Decoder(Protocol):
    def decode(self, payload: bytes) -> bytes:
        """One frame's payload as PCM16; raises FrameError(``bad_payload``) if corrupt."""


class Pcm16:
    """PCM16 stays as it is."""

    def decode(self, payload: bytes) -> bytes:
        return payload


class OpusDecoder:
    """A stateful libopus decoder for one session (packets must come in order)."""

    def __init__(self, channels: int) -> None:
        import opuslib

        self.channels = channels
        self._decoder: Any = opuslib.Decoder(OPUS_RATE, channels)
        self._error: type[Exception] = opuslib.OpusError

    def decode(self, payload: bytes) -> bytes:
        if not payload:
            return b""
        samples = int(packet_duration_ms(payload) * OPUS_RATE / 1000)
        try:
            return bytes(self._decoder.decode(payload, samples))
        except self._error as exc:
            raise FrameError(f"Opus packet does not decode: {exc}", reason="bad_payload") from None


def spool_format(codec: Codec, sample_rate: int) -> tuple[Codec, int]:
    """The (codec, rate) a session's audio is spooled in."""
    return (Codec.PCM16, OPUS_RATE) if codec is Codec.OPUS else (Codec.PCM16, sample_rate)


def decoder_for(codec: Codec, channels: int) -> Decoder:
    return OpusDecoder(channels) if codec is Codec.OPUS else Pcm16()


@dataclass(frozen=True)
class OggOpus:
    """The Opus packets of an Ogg/Opus file (one logical stream), and its header facts."""

    channels: int
    input_rate: int
    pre_skip: int
    packets: list[bytes]


_PAGE = struct.Struct("<4sBBqIIIB")


def read_ogg_opus(path: Path) -> OggOpus:
    """Demultiplex an Ogg/Opus file (RFC 7845) into its audio packets, without decoding."""
    data = path.read_bytes()
    packets: list[bytes] = []
    partial = b""
    pos = 0
    while pos < len(data):
        if len(data) - pos < _PAGE.size:
            raise FrameError(f"{path.name}: truncated Ogg page", reason="bad_payload")
        magic, version, _flags, _granule, _serial, _seq, _crc, count = _PAGE.unpack_from(data, pos)
        if magic != b"OggS" or version != 0:
            raise FrameError(f"{path.name}: not an Ogg file", reason="bad_payload")
        lacing = data[pos + _PAGE.size:pos + _PAGE.size + count]
        pos += _PAGE.size + count
        for size in lacing:
            partial += data[pos:pos + size]
            pos += size
            if size < 255:
                packets.append(partial)
                partial = b""
    if len(packets) < 2 or not packets[0].startswith(b"OpusHead") \
            or not packets[1].startswith(b"OpusTags"):
        raise FrameError(f"{path.name}: not an Ogg/Opus file", reason="bad_payload")
    head = packets[0]
    channels, pre_skip, rate = head[9], struct.unpack_from("<H", head, 10)[0], \
        struct.unpack_from("<I", head, 12)[0]
    return OggOpus(channels, rate, pre_skip, packets[2:])


def encode_opus(pcm: bytes, sample_rate: int, channels: int, frame_ms: int = 20) -> list[bytes]:
    """Encode PCM16 (8/12/16/24/48 kHz) into Opus packets of ``frame_ms`` (2.5..60 ms)."""
    import opuslib

    encoder: Any = opuslib.Encoder(sample_rate, channels, opuslib.APPLICATION_VOIP)
    step = sample_rate * frame_ms // 1000
    size = step * 2 * channels
    pcm += bytes(-len(pcm) % size)
    return [bytes(encoder.encode(pcm[i:i + size], step)) for i in range(0, len(pcm), size)]
