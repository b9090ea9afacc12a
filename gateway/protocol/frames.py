"""Binary audio frames (protocol v1): a fixed 44-byte big-endian header followed by the payload.

=====  ============  ======================================================
Bytes  Field         Meaning
=====  ============  ======================================================
4      magic         ``b"STAF"``
1      version       ``1``
1      flags         bit 0 = final frame of the session; other bits 0
1      codec         :class:`Codec`
1      channels      1 or 2
4      sample_rate   8000..48000 Hz
16     session_id    the session's uuid4, raw bytes
4      seq           frame number, 0 for the first frame of the session
8      timestamp_ms  ms since session start on the badge clock
4      payload_len   length of the payload that follows, at most 65536
=====  ============  ======================================================
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from enum import IntEnum

from gateway.protocol.errors import FrameError
from gateway.protocol.opus import packet_duration_ms

MAGIC = b"STAF"
VERSION = 1
MAX_PAYLOAD = 65536
MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 48000
MAX_SEQ = 2**32 - 1
MAX_TIMESTAMP_MS = 2**64 - 1
FLAG_FINAL = 0x01

_HEADER = struct.Struct(">4sBBBBI16sIQI")
HEADER_SIZE = _HEADER.size
_SESSION_ID = re.compile(r"[0-9a-f]{32}")


class Codec(IntEnum):
    """Audio codec of a frame's payload."""

    PCM16 = 1  #: signed 16-bit little-endian samples, channels interleaved
    OPUS = 2  #: one Opus packet per frame (RFC 6716), or an empty payload


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """One audio frame of a badge session; constructing an invalid frame raises FrameError."""

    session_id: str
    seq: int
    timestamp_ms: int
    codec: Codec
    sample_rate: int
    channels: int
    final: bool
    payload: bytes

    def __post_init__(self) -> None:
        check_session_id(self.session_id)
        _check_uint("seq", self.seq, MAX_SEQ)
        _check_uint("timestamp_ms", self.timestamp_ms, MAX_TIMESTAMP_MS)
        object.__setattr__(self, "codec", to_codec(self.codec))
        check_format(self.sample_rate, self.channels)
        if not isinstance(self.final, bool):
            raise FrameError("final must be a bool", reason="bad_field")
        if not isinstance(self.payload, bytes):
            raise FrameError("payload must be bytes", reason="bad_field")
        if len(self.payload) > MAX_PAYLOAD:
            raise FrameError(f"payload above {MAX_PAYLOAD} bytes", reason="too_large")
        if self.codec is Codec.PCM16 and len(self.payload) % (2 * self.channels):
            raise FrameError("PCM16 payload is not a whole number of samples",
                             reason="bad_payload")
        if self.codec is Codec.OPUS and self.payload:
            packet_duration_ms(self.payload)


def check_session_id(session_id: object) -> str:
    """Return ``session_id`` if it is 32 lowercase hex characters, else raise FrameError."""
    if not isinstance(session_id, str) or not _SESSION_ID.fullmatch(session_id):
        raise FrameError("session_id must be 32 lowercase hex characters", reason="bad_field")
    return session_id


def to_codec(value: object) -> Codec:
    """Return ``value`` as a Codec, or raise FrameError with reason ``unknown_codec``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise FrameError("codec must be a Codec", reason="unknown_codec")
    try:
        return Codec(value)
    except ValueError:
        raise FrameError(f"unknown codec {value}", reason="unknown_codec") from None


def check_format(sample_rate: object, channels: object) -> None:
    """Raise FrameError unless the sample rate and channel count are ones v1 allows."""
    if (isinstance(sample_rate, bool) or not isinstance(sample_rate, int)
            or not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE):
        raise FrameError(f"sample_rate must be {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}",
                         reason="bad_rate")
    if isinstance(channels, bool) or channels not in (1, 2):
        raise FrameError("channels must be 1 or 2", reason="bad_channels")


def _check_uint(name: str, value: object, maximum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
        raise FrameError(f"{name} must be an integer in 0..{maximum}", reason="bad_field")


def encode_frame(frame: AudioFrame) -> bytes:
    """Serialize a frame; the encoding is canonical (one byte string per frame)."""
    header = _HEADER.pack(
        MAGIC, VERSION, FLAG_FINAL if frame.final else 0, frame.codec, frame.channels,
        frame.sample_rate, bytes.fromhex(frame.session_id), frame.seq, frame.timestamp_ms,
        len(frame.payload),
    )
    return header + frame.payload


def decode_frame(data: bytes) -> AudioFrame:
    """Parse one frame; raises FrameError (never anything else) for any malformed input."""
    if data[:4] != MAGIC[: len(data[:4])]:
        raise FrameError("not a badge audio frame", reason="bad_magic")
    if len(data) < HEADER_SIZE:
        raise FrameError(f"{len(data)} bytes is shorter than the frame header",
                         reason="truncated")
    (_, version, flags, codec, channels, sample_rate, raw_id, seq, timestamp_ms,
     payload_len) = _HEADER.unpack_from(data)
    if version != VERSION:
        raise FrameError(f"frame version {version} is not {VERSION}", reason="bad_version")
    if flags & ~FLAG_FINAL:
        raise FrameError("reserved flag bits are set", reason="bad_field")
    if payload_len > MAX_PAYLOAD:
        raise FrameError(f"payload_len {payload_len} above {MAX_PAYLOAD}", reason="too_large")
    if payload_len != len(data) - HEADER_SIZE:
        raise FrameError(f"payload_len {payload_len} but {len(data) - HEADER_SIZE} bytes follow",
                         reason="length_mismatch")
    return AudioFrame(
        session_id=raw_id.hex(), seq=seq, timestamp_ms=timestamp_ms, codec=to_codec(codec),
        sample_rate=sample_rate, channels=channels, final=bool(flags & FLAG_FINAL),
        payload=bytes(data[HEADER_SIZE:]),
    )
