"""The envelope schema and its canonical JSON; sealing lives in :mod:`gateway.sync.envelope`.

The schema holds identifiers, times, counts and tag names only: there is no text or bytes field,
string fields must look like identifiers, and a sealed plaintext is capped at 64 KiB. The wire
format is specified in ``docs/envelope.md``; keep the two in step.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from gateway.crypto.identity import check_gateway_id
from gateway.errors import GatewayError

MAX_PLAINTEXT = 64 * 1024
MAX_TAGS = 500
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
Kind = Literal["conversation"]
KINDS: tuple[str, ...] = ("conversation",)


class EnvelopeError(GatewayError, ValueError):
    """An envelope violates the schema (on construction, sealing or after opening)."""


def upstream_topic(gateway_id: str) -> str:
    """The HQ topic a gateway publishes its sealed envelopes to."""
    return f"salestag/v1/hq/{check_gateway_id(gateway_id)}/envelopes"


def topic_gateway_id(topic: str) -> str | None:
    """The gateway id in an upstream topic, or None if ``topic`` is not one."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[:3] != ["salestag", "v1", "hq"] or parts[4] != "envelopes":
        return None
    return parts[3]


def _ident(name: str, value: object, pattern: re.Pattern[str] = ID_PATTERN) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise EnvelopeError(f"{name} must be an identifier matching {pattern.pattern}")
    return value


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EnvelopeError(f"{name} must be a finite number")
    return float(value)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


@dataclass(frozen=True, slots=True)
class TagSpan:
    """A tag earned by a stretch of the conversation, in seconds from its start. No text."""

    tag: str
    start: float
    end: float
    confidence: float

    def __post_init__(self) -> None:
        _ident("tag", self.tag, TAG_PATTERN)
        for name in ("start", "end", "confidence"):
            _set(self, name, _number(name, getattr(self, name)))
        if not 0.0 <= self.start <= self.end:
            raise EnvelopeError("a tag span needs 0 <= start <= end")
        if not 0.0 <= self.confidence <= 1.0:
            raise EnvelopeError("confidence must be between 0 and 1")


@dataclass(frozen=True, slots=True)
class ConversationMetadata:
    """What HQ learns about one conversation: who, where, when, how long, which tags."""

    conversation_id: str
    gateway_id: str
    site: str
    badge_id: str
    rep_id: str
    started_at: float
    ended_at: float
    duration_s: float
    speech_s: float
    tags: tuple[TagSpan, ...] = field(default=())
    gaps: int = 0

    def __post_init__(self) -> None:
        for name in ("conversation_id", "site", "badge_id", "rep_id"):
            _ident(name, getattr(self, name))
        try:
            check_gateway_id(self.gateway_id)
        except ValueError as err:
            raise EnvelopeError(str(err)) from None
        for name in ("started_at", "ended_at", "duration_s", "speech_s"):
            _set(self, name, _number(name, getattr(self, name)))
        if self.ended_at < self.started_at:
            raise EnvelopeError("ended_at is before started_at")
        if self.duration_s < 0 or self.speech_s < 0:
            raise EnvelopeError("durations cannot be negative")
        if not isinstance(self.tags, tuple) or not all(isinstance(t, TagSpan) for t in self.tags):
            raise EnvelopeError("tags must be a tuple of TagSpan")
        if len(self.tags) > MAX_TAGS:
            raise EnvelopeError(f"at most {MAX_TAGS} tags per conversation")
        if isinstance(self.gaps, bool) or not isinstance(self.gaps, int) or self.gaps < 0:
            raise EnvelopeError("gaps must be a non-negative integer")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One unit of upstream sync. ``idempotency_key`` lets HQ drop re-deliveries."""

    kind: Kind
    idempotency_key: str
    created_at: float
    body: ConversationMetadata

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EnvelopeError(f"unknown envelope kind {self.kind!r}")
        _ident("idempotency_key", self.idempotency_key)
        _set(self, "created_at", _number("created_at", self.created_at))
        if not isinstance(self.body, ConversationMetadata):
            raise EnvelopeError("a conversation envelope carries ConversationMetadata")


def to_json(envelope: Envelope) -> bytes:
    """The canonical plaintext: UTF-8 JSON, sorted keys, no spaces; refuses more than 64 KiB."""
    body = envelope.body
    document: dict[str, Any] = {
        "kind": envelope.kind,
        "idempotency_key": envelope.idempotency_key,
        "created_at": envelope.created_at,
        "body": {
            "conversation_id": body.conversation_id,
            "gateway_id": body.gateway_id,
            "site": body.site,
            "badge_id": body.badge_id,
            "rep_id": body.rep_id,
            "started_at": body.started_at,
            "ended_at": body.ended_at,
            "duration_s": body.duration_s,
            "speech_s": body.speech_s,
            "gaps": body.gaps,
            "tags": [
                {"tag": t.tag, "start": t.start, "end": t.end, "confidence": t.confidence}
                for t in body.tags
            ],
        },
    }
    data = canonical_json(document)
    if len(data) > MAX_PLAINTEXT:
        raise EnvelopeError(f"envelope is {len(data)} bytes; the limit is {MAX_PLAINTEXT}")
    return data


def canonical_json(document: object) -> bytes:
    """Sorted keys, no whitespace, ASCII only, no NaN or infinities."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def strict_loads(data: bytes) -> Any:
    """Parse JSON, refusing duplicate keys, NaN and infinities."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result = dict(items)
        if len(result) != len(items):
            raise EnvelopeError("duplicate key in JSON object")
        return result

    def constant(name: str) -> Any:
        raise EnvelopeError(f"{name} is not allowed")

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise EnvelopeError(f"not valid JSON: {err}") from None


def _fields(name: str, value: object, expected: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EnvelopeError(f"{name} must be a JSON object")
    if set(value) != expected:
        extra, missing = sorted(set(value) - expected), sorted(expected - set(value))
        raise EnvelopeError(f"{name}: unknown fields {extra}, missing fields {missing}")
    return value


_TAG_FIELDS = {"tag", "start", "end", "confidence"}
_BODY_FIELDS = {
    "conversation_id", "gateway_id", "site", "badge_id", "rep_id",
    "started_at", "ended_at", "duration_s", "speech_s", "gaps", "tags",
}  # fmt: skip


def from_json(data: bytes) -> Envelope:
    """Parse a canonical plaintext strictly: unknown or missing fields are errors."""
    if len(data) > MAX_PLAINTEXT:
        raise EnvelopeError(f"envelope is {len(data)} bytes; the limit is {MAX_PLAINTEXT}")
    doc = _fields("envelope", strict_loads(data), {"kind", "idempotency_key", "created_at", "body"})
    body = _fields("body", doc["body"], _BODY_FIELDS)
    if not isinstance(body["tags"], list):
        raise EnvelopeError("tags must be a list")
    tags = tuple(TagSpan(**_fields("tag", t, _TAG_FIELDS)) for t in body["tags"])
    try:
        metadata = ConversationMetadata(**{**body, "tags": tags})
        return Envelope(doc["kind"], doc["idempotency_key"], doc["created_at"], metadata)
    except TypeError as err:  # a field of the wrong type reaching a comparison
        raise EnvelopeError(str(err)) from None
