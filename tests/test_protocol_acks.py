"""Acks (protocol v1, additive), the assembler's resume and settled seq, and fuzzing of every
badge-facing parser: frames, control and status messages, acks and Opus packets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.acks import Ack, encode_ack, parse_ack
from gateway.protocol.assembler import Assembler, Chunk
from gateway.protocol.control import SessionStart, parse_control, parse_status
from gateway.protocol.errors import ControlError, FrameError, ProtocolError
from gateway.protocol.frames import AudioFrame, Codec, decode_frame
from gateway.protocol.opus import packet_duration_ms

SID = "9f1c2a7e4b3d4e8f9a0b1c2d3e4f5a6b"


def test_ack_encoding_is_compact_and_round_trips() -> None:
    ack = Ack(SID, 41)
    assert encode_ack(ack) == (b'{"v":1,"session_id":"9f1c2a7e4b3d4e8f9a0b1c2d3e4f5a6b",'
                               b'"seq":41,"status":"receiving"}')
    refused = Ack(SID, None, "refused", "disk_full", 60)
    assert parse_ack(encode_ack(refused)) == refused
    assert parse_ack(encode_ack(ack)) == ack


@pytest.mark.parametrize("data", [
    b'{"v":1,"session_id":"' + SID.encode() + b'","seq":-1,"status":"receiving"}',
    b'{"v":1,"session_id":"' + SID.encode() + b'","seq":1,"status":"done"}',
    b'{"v":1,"session_id":"' + SID.encode() + b'","seq":1,"status":"refused"}',
    b'{"v":1,"session_id":"' + SID.encode() + b'","seq":1,"status":"receiving",'
    b'"reason":"disk_full"}',
    b'{"v":1,"session_id":"' + SID.encode() + b'","seq":true,"status":"receiving"}',
    b'{"v":1,"session_id":"' + SID.encode() + b'","status":"receiving"}',
    b'{"v":1,"session_id":"' + SID.encode() + b'","seq":1,"status":"receiving","x":1}',
    b'{"v":2,"session_id":"' + SID.encode() + b'","seq":1,"status":"receiving"}',
    b'{"v":1,"session_id":"nope","seq":1,"status":"receiving"}',
    b"[]", b"\xff",
])
def test_bad_acks_are_refused(data: bytes) -> None:
    with pytest.raises(ControlError):
        parse_ack(data)


def frame(seq: int, final: bool = False) -> AudioFrame:
    return AudioFrame(SID, seq, seq * 100, Codec.PCM16, 16000, 1, final, b"\0\0")


def test_resumed_session_continues_where_the_store_left_off() -> None:
    asm = Assembler()
    asm.resume("b1", SessionStart(SID, "rep", 1.0), next_seq=5, now=0.0)
    assert asm.settled_seq("b1", SID) == 4 and asm.state("b1", SID) == "receiving"
    assert asm.add("b1", frame(3), 1.0) == []  # already stored: a duplicate
    events = asm.add("b1", frame(5), 1.0) + asm.add("b1", frame(6, final=True), 1.0)
    assert [e.seq for e in events if isinstance(e, Chunk)] == [5, 6]
    assert asm.state("b1", SID) == "finished" and asm.settled_seq("b1", SID) == 6


def test_remembered_sessions_are_replays() -> None:
    asm = Assembler()
    asm.remember("b1", SID, None)
    assert asm.state("b1", SID) == "finished" and asm.state("b2", SID) is None
    with pytest.raises(FrameError) as caught:
        asm.add("b1", frame(0), 0.0)
    assert caught.value.reason == "replay"
    with pytest.raises(ValueError, match="already known"):
        asm.resume("b1", SessionStart(SID, "rep", 1.0), 0, 0.0)


def test_settled_seq_passes_a_gap_given_up() -> None:
    asm = Assembler(session_timeout_s=5)
    asm.add("b1", frame(0), 0.0)
    asm.add("b1", frame(2), 0.0)
    assert asm.settled_seq("b1", SID) == 0
    asm.add("b1", frame(3), 4.0)
    asm.expire(5.5)  # frame 2 waited 5.5 s behind the hole at 1: give the hole up
    assert asm.settled_seq("b1", SID) == 3  # frame 1 given up: the badge need not keep it
    assert asm.contiguous_seq(SID, "b1") == 0


@given(st.binary(max_size=300))
def test_fuzz_every_parser_raises_only_protocol_errors(data: bytes) -> None:
    for parse in (decode_frame, parse_control, parse_status, parse_ack, packet_duration_ms):
        try:
            parse(data)
        except ProtocolError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=3), max_leaves=8)


@given(st.dictionaries(st.sampled_from(["v", "type", "session_id", "rep_id", "started_at",
                                        "codec", "sample_rate", "channels", "last_seq",
                                        "seq", "status", "reason", "retry_after_s",
                                        "consent_declared", "state", "battery_pct"]),
                       json_values, max_size=8))
def test_fuzz_structured_control_messages(body: dict[str, object]) -> None:
    import json

    data = json.dumps(body).encode()
    for parse in (parse_control, parse_status, parse_ack):
        try:
            parse(data)
        except ProtocolError:
            pass


@given(st.integers(0, 255), st.binary(max_size=40))
def test_fuzz_opus_packets_have_a_bounded_duration_or_are_refused(toc: int, rest: bytes) -> None:
    try:
        duration = packet_duration_ms(bytes([toc]) + rest)
    except FrameError as exc:
        assert exc.reason == "bad_payload"
    else:
        assert 2.5 <= duration <= 120
