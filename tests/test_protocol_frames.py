"""The binary audio frame codec: round trips, a fixed vector, and malformed input."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.errors import FrameError, ProtocolError
from gateway.protocol.frames import (
    HEADER_SIZE,
    MAX_PAYLOAD,
    AudioFrame,
    Codec,
    decode_frame,
    encode_frame,
)

SESSION = "9f1c2a7e4b3d4e8f9a0b1c2d3e4f5a6b"


@st.composite
def frames(draw: st.DrawFn) -> AudioFrame:
    """Any valid frame, PCM16 payloads a whole number of samples."""
    codec = draw(st.sampled_from(Codec))
    channels = draw(st.sampled_from([1, 2]))
    if codec is Codec.PCM16:
        payload = draw(st.binary(max_size=512).map(lambda b: b[: len(b) // (2 * channels) * 2
                                                               * channels]))
    else:  # an empty payload, or a one-frame Opus packet (code 0) of any configuration
        toc = draw(st.integers(0, 255).map(lambda b: b & 0xFC))
        payload = draw(st.one_of(st.just(b""), st.binary(max_size=512).map(
            lambda b: bytes([toc]) + b)))
    return AudioFrame(
        session_id=draw(st.uuids(version=4)).hex,
        seq=draw(st.integers(0, 2**32 - 1)),
        timestamp_ms=draw(st.integers(0, 2**64 - 1)),
        codec=codec,
        sample_rate=draw(st.integers(8000, 48000)),
        channels=channels,
        final=draw(st.booleans()),
        payload=payload,
    )


def frame(**changes: object) -> AudioFrame:
    fields: dict[str, object] = dict(session_id=SESSION, seq=7, timestamp_ms=140,
                                     codec=Codec.PCM16, sample_rate=16000, channels=1,
                                     final=False, payload=b"\x01\x00\xff\xff")
    fields.update(changes)
    return AudioFrame(**fields)  # type: ignore[arg-type]


def header(**changes: int | bytes) -> bytes:
    """A raw header with fields overridden, for input the encoder would never produce."""
    fields: dict[str, int | bytes] = dict(magic=b"STAF", version=1, flags=0, codec=1,
                                          channels=1, rate=16000, sid=bytes.fromhex(SESSION),
                                          seq=0, ts=0, length=0)
    fields.update(changes)
    return struct.pack(">4sBBBBI16sIQI", *fields.values())


def reason(data: bytes) -> str:
    with pytest.raises(FrameError) as caught:
        decode_frame(data)
    return caught.value.reason


@given(frames())
def test_round_trip(original: AudioFrame) -> None:
    data = encode_frame(original)
    assert len(data) == HEADER_SIZE + len(original.payload)
    assert decode_frame(data) == original


def test_known_vector() -> None:
    data = encode_frame(frame(final=True))
    assert data.hex() == (
        "53544146" "01" "01" "01" "01" "00003e80"
        "9f1c2a7e4b3d4e8f9a0b1c2d3e4f5a6b" "00000007" "000000000000008c" "00000004"
        "0100ffff"
    )
    assert HEADER_SIZE == 44


def test_empty_final_frame_is_valid() -> None:
    empty = frame(payload=b"", final=True)
    assert decode_frame(encode_frame(empty)) == empty


def test_plain_int_codec_is_coerced() -> None:
    assert frame(codec=2, payload=b"\x08ab").codec is Codec.OPUS


@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_frame_errors(data: bytes) -> None:
    try:
        decode_frame(data)
    except FrameError:
        pass


@given(st.binary(min_size=HEADER_SIZE - 5, max_size=HEADER_SIZE + 40))
def test_bytes_after_a_valid_prefix_raise_only_frame_errors(rest: bytes) -> None:
    try:
        decode_frame(b"STAF\x01" + rest)
    except FrameError:
        pass


@given(frames(), st.data())
def test_truncations_are_refused(original: AudioFrame, data: st.DataObject) -> None:
    encoded = encode_frame(original)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    assert reason(encoded[:cut]) in {"truncated", "length_mismatch"}


@given(frames(), st.data())
def test_bit_flips_are_refused_or_decode_canonically(original: AudioFrame,
                                                      data: st.DataObject) -> None:
    encoded = bytearray(encode_frame(original))
    for _ in range(data.draw(st.integers(1, 3))):
        bit = data.draw(st.integers(0, len(encoded) * 8 - 1))
        encoded[bit // 8] ^= 1 << (bit % 8)
    try:
        decoded = decode_frame(bytes(encoded))
    except ProtocolError as exc:
        assert isinstance(exc, FrameError)
    else:
        assert encode_frame(decoded) == bytes(encoded)


@pytest.mark.parametrize(("data", "expected"), [
    (b"", "truncated"),
    (b"ST", "truncated"),
    (b"XTAF", "bad_magic"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "bad_magic"),
    (header()[:-1], "truncated"),
    (header(version=2), "bad_version"),
    (header(version=0), "bad_version"),
    (header(flags=0x02), "bad_field"),
    (header(flags=0x81), "bad_field"),
    (header(codec=0), "unknown_codec"),
    (header(codec=3), "unknown_codec"),
    (header(channels=0), "bad_channels"),
    (header(channels=3), "bad_channels"),
    (header(rate=7999), "bad_rate"),
    (header(rate=48001), "bad_rate"),
    (header(rate=0xFFFFFFFF), "bad_rate"),
    (header(length=MAX_PAYLOAD + 1), "too_large"),
    (header(length=0xFFFFFFFF), "too_large"),
    (header(length=4) + b"\0\0", "length_mismatch"),
    (header(length=2) + b"\0\0\0\0", "length_mismatch"),
    (header(length=0) + b"\0\0", "length_mismatch"),
    (header(length=3) + b"\0\0\0", "bad_payload"),
    (header(channels=2, length=2) + b"\0\0", "bad_payload"),
])
def test_malformed_frames(data: bytes, expected: str) -> None:
    assert reason(data) == expected


def test_largest_payload_is_accepted_and_one_more_byte_refused() -> None:
    assert len(decode_frame(encode_frame(frame(payload=bytes(MAX_PAYLOAD)))).payload) == MAX_PAYLOAD
    assert reason(header(length=MAX_PAYLOAD) + bytes(MAX_PAYLOAD + 2)) == "length_mismatch"


def test_odd_opus_payload_is_accepted() -> None:
    assert decode_frame(header(codec=2, length=3) + b"abc").codec is Codec.OPUS


@pytest.mark.parametrize("packet", [
    b"\x01abc",  # code 1: two equal frames in an odd number of bytes
    b"\x02\xfc",  # code 2: frame length cut short
    b"\x02\x05ab",  # code 2: first frame longer than the packet
    b"\x03",  # code 3: frame count missing
    b"\x03\x00",  # code 3: zero frames
    b"\x0b\x07",  # code 3: 7 x 20 ms = 140 ms, above 120 ms
    b"\x03\x02abc",  # code 3 CBR: 3 bytes in 2 equal frames
    b"\x03\x42\xff",  # code 3: padding length cut short
    b"\x03\x82\x09ab",  # code 3 VBR: lengths exceed the packet
    b"\x00" + bytes(1276),  # code 0: a frame above 1275 bytes
])
def test_corrupt_opus_packets_are_refused(packet: bytes) -> None:
    assert reason(header(codec=2, length=len(packet)) + packet) == "bad_payload"


@pytest.mark.parametrize(("changes", "expected"), [
    ({"session_id": SESSION.upper()}, "bad_field"),
    ({"session_id": SESSION[:-1]}, "bad_field"),
    ({"session_id": "9f1c2a7e-4b3d-4e8f-9a0b-1c2d3e4f5a6b"}, "bad_field"),
    ({"seq": -1}, "bad_field"),
    ({"seq": 2**32}, "bad_field"),
    ({"seq": True}, "bad_field"),
    ({"timestamp_ms": 2**64}, "bad_field"),
    ({"codec": 9}, "unknown_codec"),
    ({"codec": "pcm16"}, "unknown_codec"),
    ({"sample_rate": 16000.0}, "bad_rate"),
    ({"channels": 2, "payload": b"\0\0"}, "bad_payload"),
    ({"final": 1}, "bad_field"),
    ({"payload": bytearray(2)}, "bad_field"),
    ({"payload": bytes(MAX_PAYLOAD + 2)}, "too_large"),
])
def test_invalid_frames_cannot_be_built(changes: dict[str, object], expected: str) -> None:
    with pytest.raises(FrameError) as caught:
        frame(**changes)
    assert caught.value.reason == expected


def test_documented_example_decodes() -> None:
    docs = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"
    blocks = re.findall(r"```\n(53544146.*?)```", docs.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) == 1
    assert decode_frame(bytes.fromhex("".join(blocks[0].split()))) == frame(final=True)
