"""Control and status JSON: round trips, the documented examples, and malformed input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.protocol.acks import parse_ack
from gateway.protocol.control import (
    MAX_MESSAGE_BYTES,
    BadgeStatus,
    ControlMessage,
    SessionStart,
    SessionStop,
    encode_control,
    encode_status,
    parse_control,
    parse_status,
)
from gateway.protocol.errors import ControlError
from gateway.protocol.frames import Codec

SESSION = "9f1c2a7e4b3d4e8f9a0b1c2d3e4f5a6b"
DOCS = Path(__file__).resolve().parent.parent / "docs" / "protocol.md"

ids = st.from_regex(r"[A-Za-z0-9_.-]{1,64}", fullmatch=True)
session_ids = st.uuids(version=4).map(lambda u: u.hex)
starts = st.builds(
    SessionStart,
    session_id=session_ids,
    rep_id=ids,
    started_at=st.one_of(st.floats(0, 1e10), st.integers(0, 10**10)),
    codec=st.sampled_from(Codec),
    sample_rate=st.integers(8000, 48000),
    channels=st.sampled_from([1, 2]),
    customer_ref=st.none() | ids,
    consent_declared=st.booleans(),
)
stops = st.builds(SessionStop, session_id=session_ids,
                  last_seq=st.none() | st.integers(0, 2**32 - 1))
statuses = st.builds(
    BadgeStatus,
    state=st.sampled_from(["online", "offline"]),
    battery_pct=st.none() | st.integers(0, 100),
    rssi_dbm=st.none() | st.integers(-150, 0),
    firmware=st.none() | st.from_regex(r"[A-Za-z0-9_.+-]{1,64}", fullmatch=True),
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def start_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {"v": 1, "type": "session_start", "session_id": SESSION,
                               "rep_id": "rep-042", "started_at": 1767225600.25}
    body.update(changes)
    return {key: value for key, value in body.items() if value is not ...}


def control_reason(body: object) -> str:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ControlError) as caught:
        parse_control(data)
    return caught.value.reason


@given(st.one_of(starts, stops))
def test_control_round_trip(msg: ControlMessage) -> None:
    assert parse_control(encode_control(msg)) == msg


@given(statuses)
def test_status_round_trip(status: BadgeStatus) -> None:
    assert parse_status(encode_status(status)) == status


@given(st.one_of(starts, stops, statuses))
def test_encoded_messages_fit_the_limit(msg: SessionStart | SessionStop | BadgeStatus) -> None:
    data = encode_status(msg) if isinstance(msg, BadgeStatus) else encode_control(msg)
    assert len(data) <= MAX_MESSAGE_BYTES
    assert json.loads(data)["v"] == 1


def test_last_will_payload() -> None:
    assert encode_status(BadgeStatus(state="offline")) == b'{"v":1,"state":"offline"}'
    assert parse_status(b'{"state": "offline", "v": 1}') == BadgeStatus("offline")


def test_defaults_and_nulls() -> None:
    msg = parse_control(json.dumps(start_body(customer_ref=None)).encode())
    assert msg == SessionStart(SESSION, "rep-042", 1767225600.25)
    assert isinstance(msg, SessionStart) and msg.codec is Codec.PCM16
    assert parse_control(b'{"v":1,"type":"session_stop","session_id":"%s"}' % SESSION.encode()
                         ) == SessionStop(SESSION)
    assert parse_control(json.dumps(start_body(started_at=5)).encode()) == SessionStart(
        SESSION, "rep-042", 5.0)


def test_documented_examples_parse() -> None:
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    assert len(blocks) >= 4
    for block in blocks:
        data = block.encode()
        body = json.loads(data)
        if "type" in body:
            parse_control(data)
        elif "seq" in body:
            parse_ack(data)
        else:
            parse_status(data)


@pytest.mark.parametrize(("body", "expected"), [
    (b"", "bad_json"),
    (b"{", "bad_json"),
    (b"\xff\xfe{}", "bad_json"),
    (b"\xef\xbb\xbf" + json.dumps(start_body()).encode(), "bad_json"),
    (b"[1]", "bad_json"),
    (b'"session_start"', "bad_json"),
    (b'{"v":1,"v":1,"type":"session_stop","session_id":"%s"}' % SESSION.encode(), "bad_json"),
    (b'{"v":1,"type":"session_start","started_at":NaN}', "bad_json"),
    (b"[" * 3000 + b"]" * 3000, "too_large"),
    (b"[" * 2000 + b"]" * 2000, "bad_json"),
    (b" " * MAX_MESSAGE_BYTES + b"{}", "too_large"),
    (start_body(v=...), "bad_field"),
    (start_body(v=2), "bad_version"),
    (start_body(v=True), "bad_version"),
    (start_body(v=1.0), "bad_version"),
    (start_body(v="1"), "bad_version"),
    (start_body(type=...), "bad_field"),
    (start_body(type=7), "bad_field"),
    (start_body(type="consent"), "unknown_type"),
    (start_body(rep_id=...), "bad_field"),
    (start_body(rep_id=None), "bad_field"),
    (start_body(rep_id=""), "bad_field"),
    (start_body(rep_id="r" * 65), "bad_field"),
    (start_body(rep_id="rep 1"), "bad_field"),
    (start_body(rep_id="rep/1"), "bad_field"),
    (start_body(rep_id="r\u00e9p"), "bad_field"),
    (start_body(rep_id=42), "bad_field"),
    (start_body(session_id=SESSION.upper()), "bad_field"),
    (start_body(session_id="9f1c2a7e-4b3d-4e8f-9a0b-1c2d3e4f5a6b"), "bad_field"),
    (start_body(started_at=-1), "bad_field"),
    (start_body(started_at=1e300), "bad_field"),
    (start_body(started_at=10**400), "bad_field"),
    (start_body(started_at="2026-01-01"), "bad_field"),
    (start_body(started_at=True), "bad_field"),
    (start_body(codec="mp3"), "unknown_codec"),
    (start_body(codec="PCM16"), "unknown_codec"),
    (start_body(codec=1), "bad_field"),
    (start_body(codec=None), "bad_field"),
    (start_body(sample_rate=44100.0), "bad_rate"),
    (start_body(sample_rate=96000), "bad_rate"),
    (start_body(channels=0), "bad_channels"),
    (start_body(channels=True), "bad_channels"),
    (start_body(customer_ref="x" * 65), "bad_field"),
    (start_body(consent_declared="yes"), "bad_field"),
    (start_body(consent_declared=1), "bad_field"),
    (start_body(consent_declared=None), "bad_field"),
    (start_body(extra=1), "bad_field"),
    (start_body(last_seq=3), "bad_field"),
    ({"v": 1, "type": "session_stop"}, "bad_field"),
    ({"v": 1, "type": "session_stop", "session_id": SESSION, "last_seq": -1}, "bad_field"),
    ({"v": 1, "type": "session_stop", "session_id": SESSION, "last_seq": 2**32}, "bad_field"),
    ({"v": 1, "type": "session_stop", "session_id": SESSION, "last_seq": 1.0}, "bad_field"),
    ({"v": 1, "state": "offline"}, "bad_field"),
])
def test_malformed_control(body: object, expected: str) -> None:
    assert control_reason(body) == expected


@pytest.mark.parametrize(("body", "expected"), [
    ({"v": 1}, "bad_field"),
    ({"v": 1, "state": "sleeping"}, "bad_field"),
    ({"v": 1, "state": "online", "battery_pct": 101}, "bad_field"),
    ({"v": 1, "state": "online", "battery_pct": 99.5}, "bad_field"),
    ({"v": 1, "state": "online", "rssi_dbm": 3}, "bad_field"),
    ({"v": 1, "state": "online", "firmware": "1.2 beta"}, "bad_field"),
    ({"v": 1, "state": "online", "type": "status"}, "bad_field"),
    ({"v": 2, "state": "online"}, "bad_version"),
    ([], "bad_json"),
])
def test_malformed_status(body: object, expected: str) -> None:
    with pytest.raises(ControlError) as caught:
        parse_status(json.dumps(body).encode())
    assert caught.value.reason == expected


def test_invalid_messages_cannot_be_built() -> None:
    with pytest.raises(ControlError, match="rep_id"):
        SessionStart(SESSION, "", 0.0)
    with pytest.raises(ControlError) as caught:
        SessionStart(SESSION, "rep", 0.0, channels=3)
    assert caught.value.reason == "bad_channels"
    with pytest.raises(ControlError):
        BadgeStatus("away")  # type: ignore[arg-type]


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_control_errors(data: bytes) -> None:
    for parse in (parse_control, parse_status):
        try:
            parse(data)
        except ControlError:
            pass


@given(json_values)
def test_arbitrary_json_raises_only_control_errors(value: object) -> None:
    data = json.dumps(value).encode()
    for parse in (parse_control, parse_status):
        try:
            parse(data)
        except ControlError:
            pass


@given(starts, st.sampled_from(["v", "type", "session_id", "rep_id", "started_at", "codec",
                                "sample_rate", "channels", "customer_ref", "consent_declared",
                                "extra"]), json_values)
def test_mutated_fields_are_refused_or_valid(msg: SessionStart, key: str, value: object) -> None:
    body = json.loads(encode_control(msg))
    body[key] = value
    try:
        parsed = parse_control(json.dumps(body).encode())
    except ControlError:
        return
    assert json.loads(encode_control(parsed)) == {k: v for k, v in body.items() if v is not None}
