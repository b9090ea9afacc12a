"""Control and status messages (protocol v1): small UTF-8 JSON objects with ``"v": 1``.

Encoders write keys in a fixed order and leave out optional fields that are ``None``; parsers
accept any key order and ``null`` for those fields, and reject everything else they do not know.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from gateway.protocol.errors import ControlError, FrameError
from gateway.protocol.frames import MAX_SEQ, Codec, check_format, check_session_id, to_codec

VERSION = 1
MAX_MESSAGE_BYTES = 4096
MAX_STARTED_AT = 1e11  # unix seconds; far beyond any real clock, but finite
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FIRMWARE = re.compile(r"[A-Za-z0-9_.+-]{1,64}")
_CODEC_NAMES = {codec.name.lower(): codec for codec in Codec}

T = TypeVar("T")


def _checked(check: Callable[[], T]) -> T:
    """Run a frame-level check, re-raising its failure as a ControlError with the same reason."""
    try:
        return check()
    except FrameError as exc:
        raise ControlError(str(exc), reason=exc.reason) from None


def _check_id(name: str, value: object, *, optional: bool = False,
              pattern: re.Pattern[str] = _ID) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ControlError(f"{name} must match {pattern.pattern}", reason="bad_field")


def _check_int(name: str, value: object, low: int, high: int, *, optional: bool = True) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ControlError(f"{name} must be an integer in {low}..{high}", reason="bad_field")


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ControlError(f"{name} must be true or false", reason="bad_field")


@dataclass(frozen=True, slots=True)
class SessionStart:
    """A badge begins recording a session; constructing an invalid one raises ControlError."""

    session_id: str
    rep_id: str
    started_at: float
    codec: Codec = Codec.PCM16
    sample_rate: int = 16000
    channels: int = 1
    customer_ref: str | None = None
    consent_declared: bool = False

    def __post_init__(self) -> None:
        _checked(lambda: check_session_id(self.session_id))
        _check_id("rep_id", self.rep_id)
        started_at: object = self.started_at
        if (isinstance(started_at, bool) or not isinstance(started_at, int | float)
                or not 0 <= started_at < MAX_STARTED_AT or not math.isfinite(started_at)):
            raise ControlError("started_at must be unix seconds", reason="bad_field")
        object.__setattr__(self, "started_at", float(started_at))
        object.__setattr__(self, "codec", _checked(lambda: to_codec(self.codec)))
        _checked(lambda: check_format(self.sample_rate, self.channels))
        _check_id("customer_ref", self.customer_ref, optional=True)
        _check_bool("consent_declared", self.consent_declared)


@dataclass(frozen=True, slots=True)
class SessionStop:
    """A badge ends a session; ``last_seq`` is the seq of its last frame, if it sent any."""

    session_id: str
    last_seq: int | None = None

    def __post_init__(self) -> None:
        _checked(lambda: check_session_id(self.session_id))
        _check_int("last_seq", self.last_seq, 0, MAX_SEQ)


def _check_time(name: str, value: object) -> None:
    if value is None:
        return
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not 0 <= value < MAX_STARTED_AT):
        raise ControlError(f"{name} must be unix seconds", reason="bad_field")


@dataclass(frozen=True, slots=True)
class _ConsentEvent:
    session_id: str
    at: float | None = None  #: badge clock, unix seconds, when the button was pressed

    def __post_init__(self) -> None:
        _checked(lambda: check_session_id(self.session_id))
        _check_time("at", self.at)
        if self.at is not None:
            object.__setattr__(self, "at", float(self.at))


@dataclass(frozen=True, slots=True)
class ConsentDeclared(_ConsentEvent):
    """The rep pressed the badge's disclosure button: the customer was told of the recording."""


@dataclass(frozen=True, slots=True)
class ConsentGiven(_ConsentEvent):
    """The customer agreed to the recording (confirmed on the badge)."""


@dataclass(frozen=True, slots=True)
class OptOut(_ConsentEvent):
    """The customer opted out (badge button): the gateway stops the session and purges it."""


ConsentMessage = ConsentDeclared | ConsentGiven | OptOut
ControlMessage = SessionStart | SessionStop | ConsentMessage

_TYPE_NAMES: dict[type[ControlMessage], str] = {
    SessionStart: "session_start",
    SessionStop: "session_stop",
    ConsentDeclared: "consent_declared",
    ConsentGiven: "consent_given",
    OptOut: "opt_out",
}


@dataclass(frozen=True, slots=True)
class BadgeStatus:
    """A badge's retained presence and health, published on its status topic."""

    state: Literal["online", "offline"]
    battery_pct: int | None = None
    rssi_dbm: int | None = None
    firmware: str | None = None

    def __post_init__(self) -> None:
        if self.state not in ("online", "offline"):
            raise ControlError('state must be "online" or "offline"', reason="bad_field")
        _check_int("battery_pct", self.battery_pct, 0, 100)
        _check_int("rssi_dbm", self.rssi_dbm, -150, 0)
        _check_id("firmware", self.firmware, optional=True, pattern=_FIRMWARE)


_Msg = TypeVar("_Msg", SessionStart, SessionStop, BadgeStatus, ConsentDeclared, ConsentGiven,
               OptOut)


def _to_json(value: object) -> object:
    return value.name.lower() if isinstance(value, Codec) else value


def _encode(head: dict[str, object], msg: ControlMessage | BadgeStatus) -> bytes:
    body = dict(head)
    for field in dataclasses.fields(msg):
        value = getattr(msg, field.name)
        if value is not None:
            body[field.name] = _to_json(value)
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def encode_control(msg: ControlMessage) -> bytes:
    """Serialize a control message to compact JSON."""
    return _encode({"v": VERSION, "type": _TYPE_NAMES[type(msg)]}, msg)


def encode_status(status: BadgeStatus) -> bytes:
    """Serialize a status; ``BadgeStatus("offline")`` gives ``{"v":1,"state":"offline"}``."""
    return _encode({"v": VERSION}, status)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    body = dict(pairs)
    if len(body) != len(pairs):
        raise ValueError("duplicate key")
    return body


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _load(data: bytes) -> dict[str, Any]:
    """Decode a JSON object of protocol version 1, or raise ControlError."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise ControlError(f"message above {MAX_MESSAGE_BYTES} bytes", reason="too_large")
    try:
        body = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                          parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise ControlError("not a UTF-8 JSON message", reason="bad_json") from None
    if not isinstance(body, dict):
        raise ControlError("message is not a JSON object", reason="bad_json")
    if "v" not in body:
        raise ControlError("missing field v", reason="bad_field")
    version = body.pop("v")
    if isinstance(version, bool) or version != VERSION or not isinstance(version, int):
        raise ControlError(f"message version is not {VERSION}", reason="bad_version")
    return body


def _build(cls: type[_Msg], body: dict[str, Any]) -> _Msg:
    """Construct ``cls`` from JSON fields, rejecting unknown, missing and mistyped ones."""
    known = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(body) - set(known))
    if unknown:
        raise ControlError(f"unknown field {unknown[0][:64]!r}", reason="bad_field")
    kwargs: dict[str, Any] = {}
    for name, field in known.items():
        value = body.get(name)
        if value is None:
            if field.default is dataclasses.MISSING or (name in body and field.default is not None):
                raise ControlError(f"missing or null field {name}", reason="bad_field")
            continue
        if name == "codec":
            if not isinstance(value, str):
                raise ControlError("codec must be a string", reason="bad_field")
            if value not in _CODEC_NAMES:
                raise ControlError("unknown codec", reason="unknown_codec")
            value = _CODEC_NAMES[value]
        kwargs[name] = value
    return cls(**kwargs)


def parse_control(data: bytes) -> ControlMessage:
    """Parse a control message; raises ControlError (never anything else) for bad input."""
    body = _load(data)
    kind = body.pop("type", None)
    if not isinstance(kind, str):
        raise ControlError("missing or non-string field type", reason="bad_field")
    if kind == "session_start":
        return _build(SessionStart, body)
    if kind == "session_stop":
        return _build(SessionStop, body)
    if kind == "consent_declared":
        return _build(ConsentDeclared, body)
    if kind == "consent_given":
        return _build(ConsentGiven, body)
    if kind == "opt_out":
        return _build(OptOut, body)
    raise ControlError("unknown control message type", reason="unknown_type")


def parse_status(data: bytes) -> BadgeStatus:
    """Parse a status message; raises ControlError (never anything else) for bad input."""
    return _build(BadgeStatus, _load(data))
