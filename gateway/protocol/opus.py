"""Structural checks of Opus packets (RFC 6716 section 3), without decoding them.

A frame's Opus payload is one packet. These rules (R1-R7 of RFC 6716 section 3.4) are what a
decoder would refuse before looking at the audio; checking them up front lets the gateway refuse
a corrupt packet when it arrives, before it reaches the stateful decoder.
"""

from __future__ import annotations

from gateway.protocol.errors import FrameError

MAX_FRAME_BYTES = 1275
MAX_PACKET_MS = 120.0
_FRAME_MS = (10.0, 20.0, 40.0, 60.0)
_CELT_MS = (2.5, 5.0, 10.0, 20.0)


def frame_ms(toc: int) -> float:
    """Duration of each frame in a packet with this table-of-contents byte."""
    config = toc >> 3
    if config < 12:
        return _FRAME_MS[config % 4]
    if config < 16:
        return _FRAME_MS[config % 2]
    return _CELT_MS[config % 4]


def _bad(message: str) -> FrameError:
    return FrameError(f"corrupt Opus packet: {message}", reason="bad_payload")


def _length(data: bytes, pos: int) -> tuple[int, int]:
    """Read a frame length (1 or 2 bytes); returns (length, next position)."""
    if pos >= len(data):
        raise _bad("frame length missing")
    first = data[pos]
    if first < 252:
        return first, pos + 1
    if pos + 1 >= len(data):
        raise _bad("frame length cut short")
    return first + 4 * data[pos + 1], pos + 2


def packet_duration_ms(packet: bytes) -> float:
    """The packet's audio duration; raises FrameError(``bad_payload``) for a malformed packet."""
    if not packet:
        raise _bad("empty packet")
    toc, code, size = packet[0], packet[0] & 0x03, len(packet)
    if code == 0:
        frames, sizes = 1, [size - 1]
    elif code == 1:
        if (size - 1) % 2:
            raise _bad("two equal frames of an odd total length")
        frames, sizes = 2, [(size - 1) // 2] * 2
    elif code == 2:
        first, pos = _length(packet, 1)
        if first > size - pos:
            raise _bad("first frame longer than the packet")
        frames, sizes = 2, [first, size - pos - first]
    else:
        frames, sizes = _code3(packet)
    if any(s > MAX_FRAME_BYTES for s in sizes):
        raise _bad(f"a frame above {MAX_FRAME_BYTES} bytes")
    duration = frames * frame_ms(toc)
    if duration > MAX_PACKET_MS:
        raise _bad(f"more than {MAX_PACKET_MS:.0f} ms of audio")
    return duration


def _code3(packet: bytes) -> tuple[int, list[int]]:
    """Frame count and sizes of a code 3 packet (any number of frames, CBR or VBR, padding)."""
    if len(packet) < 2:
        raise _bad("frame count byte missing")
    info = packet[1]
    vbr, padded, frames = bool(info & 0x80), bool(info & 0x40), info & 0x3F
    if frames == 0:
        raise _bad("zero frames")
    pos, padding = 2, 0
    while padded:
        if pos >= len(packet):
            raise _bad("padding length cut short")
        step = packet[pos]
        pos += 1
        padding += 254 if step == 255 else step
        padded = step == 255
    remaining = len(packet) - pos - padding
    if remaining < 0:
        raise _bad("padding longer than the packet")
    if not vbr:
        if remaining % frames:
            raise _bad("constant-bitrate frames of unequal length")
        return frames, [remaining // frames] * frames
    sizes = []
    for _ in range(frames - 1):
        length, pos = _length(packet, pos)
        sizes.append(length)
    last = len(packet) - pos - padding - sum(sizes)
    if last < 0:
        raise _bad("frame lengths exceed the packet")
    return frames, [*sizes, last]
