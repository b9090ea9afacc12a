"""The envelope schema and its canonical JSON; sealing lives in :mod:`gateway.sync.envelope`.

The schema holds identifiers, times, counts, hashes and tag names only: there is no text or bytes
field, string fields must look like identifiers (or lowercase hex), and a sealed plaintext is
capped at 64 KiB. Five kinds exist: ``conversation``, ``deletion``, ``correction``,
``audit_checkpoint`` and ``health``. The wire format is specified in ``docs/envelope.md``; keep
the two in step.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

from gateway.crypto.identity import check_gateway_id
from gateway.errors import GatewayError

MAX_PLAINTEXT = 64 * 1024
MAX_TAGS = 500
MAX_DELETION_IDS = 400
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
TAG_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
HEX_PATTERN = re.compile(r"(?:[0-9a-f]{2}){16,64}")
SIGNATURE_PATTERN = re.compile(r"[0-9a-f]{128}")
Kind = Literal["conversation", "deletion", "correction", "audit_checkpoint", "health"]
KINDS: tuple[str, ...] = get_args(Kind)
DeletionReason = Literal["subject_request", "opt_out", "retention", "consent_missing"]
DELETION_REASONS: tuple[str, ...] = get_args(DeletionReason)
CorrectionAction = Literal["add", "remove", "change"]
CORRECTION_ACTIONS: tuple[str, ...] = get_args(CorrectionAction)
CHECKPOINT_CONTEXT = "salestag-audit-checkpoint/v1"


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
        raise EnvelopeError(f"{name} must match {pattern.pattern}")
    return value


def _gateway(value: object) -> str:
    try:
        return check_gateway_id(value)  # type: ignore[arg-type]
    except ValueError as err:
        raise EnvelopeError(str(err)) from None


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise EnvelopeError(f"{name} must be a finite number")
    return float(value)


def _count(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EnvelopeError(f"{name} must be a non-negative integer")
    return value


def _choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise EnvelopeError(f"{name} must be one of {', '.join(choices)}")
    return str(value)


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


def _numbers(obj: object, *names: str) -> None:
    for name in names:
        _set(obj, name, _number(name, getattr(obj, name)))


@dataclass(frozen=True, slots=True)
class TagSpan:
    """A tag earned by a stretch of the conversation, in seconds from its start. No text."""

    tag: str
    start: float
    end: float
    confidence: float

    def __post_init__(self) -> None:
        _ident("tag", self.tag, TAG_PATTERN)
        _numbers(self, "start", "end", "confidence")
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
        _gateway(self.gateway_id)
        _numbers(self, "started_at", "ended_at", "duration_s", "speech_s")
        if self.ended_at < self.started_at:
            raise EnvelopeError("ended_at is before started_at")
        if self.duration_s < 0 or self.speech_s < 0:
            raise EnvelopeError("durations cannot be negative")
        if not isinstance(self.tags, tuple) or not all(isinstance(t, TagSpan) for t in self.tags):
            raise EnvelopeError("tags must be a tuple of TagSpan")
        if len(self.tags) > MAX_TAGS:
            raise EnvelopeError(f"at most {MAX_TAGS} tags per conversation")
        _count("gaps", self.gaps)


@dataclass(frozen=True, slots=True)
class DeletionNotice:
    """HQ must delete what it holds about these conversations. ``subject_ref`` is an HMAC hex
    digest of the data subject (never a clear identifier), or None."""

    conversation_ids: tuple[str, ...]
    reason: DeletionReason
    requested_at: float
    gateway_id: str
    subject_ref: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.conversation_ids, tuple):
            raise EnvelopeError("conversation_ids must be a tuple")
        for cid in self.conversation_ids:
            _ident("conversation_ids[]", cid)
        if len(set(self.conversation_ids)) != len(self.conversation_ids):
            raise EnvelopeError("conversation_ids has duplicates")
        if len(self.conversation_ids) > MAX_DELETION_IDS:
            raise EnvelopeError(f"at most {MAX_DELETION_IDS} conversation ids per notice")
        if not self.conversation_ids and self.subject_ref is None:
            raise EnvelopeError("a deletion notice names conversations or a subject_ref")
        _choice("reason", self.reason, DELETION_REASONS)
        _numbers(self, "requested_at")
        _gateway(self.gateway_id)
        if self.subject_ref is not None:
            _ident("subject_ref", self.subject_ref, HEX_PATTERN)


@dataclass(frozen=True, slots=True)
class Correction:
    """A person corrected a tag span of a conversation: ``add`` or ``remove`` ``tag`` over
    ``[start, end]``, or ``change`` it to ``new_tag``. ``corrected_by`` is a user id."""

    conversation_id: str
    gateway_id: str
    tag: str
    action: CorrectionAction
    start: float
    end: float
    new_tag: str | None
    corrected_by: str
    corrected_at: float

    def __post_init__(self) -> None:
        _ident("conversation_id", self.conversation_id)
        _gateway(self.gateway_id)
        _ident("tag", self.tag, TAG_PATTERN)
        _choice("action", self.action, CORRECTION_ACTIONS)
        _numbers(self, "start", "end", "corrected_at")
        if not 0.0 <= self.start <= self.end:
            raise EnvelopeError("a correction needs 0 <= start <= end")
        if self.action == "change":
            _ident("new_tag", self.new_tag, TAG_PATTERN)
        elif self.new_tag is not None:
            raise EnvelopeError("new_tag is only for action 'change'")
        _ident("corrected_by", self.corrected_by)


@dataclass(frozen=True, slots=True)
class AuditCheckpoint:
    """The head of the gateway's hash-chained audit log, signed by its audit key (Ed25519, hex)
    over :func:`checkpoint_signing_input`. ``seq`` increases with every checkpoint; ``entries``
    is the log length at ``head_hash``."""

    gateway_id: str
    seq: int
    head_hash: str
    entries: int
    at: float
    signature: str

    def __post_init__(self) -> None:
        _gateway(self.gateway_id)
        _count("seq", self.seq)
        _ident("head_hash", self.head_hash, HEX_PATTERN)
        _count("entries", self.entries)
        _numbers(self, "at")
        _ident("signature", self.signature, SIGNATURE_PATTERN)


def checkpoint_signing_input(
    gateway_id: str, seq: int, head_hash: str, entries: int, at: float
) -> bytes:
    """The bytes an audit checkpoint signature covers: a context string and canonical JSON."""
    document = {"at": float(at), "entries": entries, "gateway_id": gateway_id,
                "head_hash": head_hash, "seq": seq}  # fmt: skip
    return CHECKPOINT_CONTEXT.encode("ascii") + b"." + canonical_json(document)


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """Periodic liveness and capacity figures of a gateway."""

    gateway_id: str
    at: float
    uptime_s: float
    outbox_backlog: int
    disk_free_pct: float
    conversations_pending: int
    badges_online: int

    def __post_init__(self) -> None:
        _gateway(self.gateway_id)
        _numbers(self, "at", "uptime_s", "disk_free_pct")
        if self.uptime_s < 0:
            raise EnvelopeError("uptime_s cannot be negative")
        if not 0.0 <= self.disk_free_pct <= 100.0:
            raise EnvelopeError("disk_free_pct must be between 0 and 100")
        for name in ("outbox_backlog", "conversations_pending", "badges_online"):
            _count(name, getattr(self, name))


Body = ConversationMetadata | DeletionNotice | Correction | AuditCheckpoint | GatewayHealth
BODY_TYPES: dict[str, type[Any]] = {
    "conversation": ConversationMetadata,
    "deletion": DeletionNotice,
    "correction": Correction,
    "audit_checkpoint": AuditCheckpoint,
    "health": GatewayHealth,
}


@dataclass(frozen=True, slots=True)
class Envelope:
    """One unit of upstream sync. ``idempotency_key`` lets HQ drop re-deliveries."""

    kind: Kind
    idempotency_key: str
    created_at: float
    body: Body

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise EnvelopeError(f"unknown envelope kind {self.kind!r}")
        _ident("idempotency_key", self.idempotency_key)
        _set(self, "created_at", _number("created_at", self.created_at))
        expected = BODY_TYPES[self.kind]
        if type(self.body) is not expected:
            raise EnvelopeError(f"a {self.kind} envelope carries {expected.__name__}")

    @property
    def conversation_ids(self) -> tuple[str, ...]:
        """The conversations this envelope is about (for per-conversation ordering)."""
        body = self.body
        if isinstance(body, ConversationMetadata | Correction):
            return (body.conversation_id,)
        if isinstance(body, DeletionNotice):
            return body.conversation_ids
        return ()


def body_json(body: Body) -> bytes:
    """The canonical JSON of a body alone (what idempotency digests are computed over)."""
    return canonical_json(_body_document(body))


def _body_document(body: Body) -> dict[str, Any]:
    if isinstance(body, ConversationMetadata):
        return {
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
        }
    document = {f.name: getattr(body, f.name) for f in fields(body)}
    if isinstance(body, DeletionNotice):
        document["conversation_ids"] = list(body.conversation_ids)
    return document


def to_json(envelope: Envelope) -> bytes:
    """The canonical plaintext: UTF-8 JSON, sorted keys, no spaces; refuses more than 64 KiB."""
    document: dict[str, Any] = {
        "kind": envelope.kind,
        "idempotency_key": envelope.idempotency_key,
        "created_at": envelope.created_at,
        "body": _body_document(envelope.body),
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
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise EnvelopeError(f"not valid JSON: {err}") from None


def _fields(name: str, value: object, expected: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise EnvelopeError(f"{name} must be a JSON object")
    if set(value) != expected:
        extra, missing = sorted(set(value) - expected), sorted(expected - set(value))
        raise EnvelopeError(f"{name}: unknown fields {extra}, missing fields {missing}")
    return value


def _list(name: str, value: object) -> list[Any]:
    if not isinstance(value, list):
        raise EnvelopeError(f"{name} must be a list")
    return value


_TAG_FIELDS = {"tag", "start", "end", "confidence"}


def _parse_conversation(body: dict[str, Any]) -> ConversationMetadata:
    tags = tuple(TagSpan(**_fields("tag", t, _TAG_FIELDS)) for t in _list("tags", body["tags"]))
    return ConversationMetadata(**{**body, "tags": tags})


def _parse_deletion(body: dict[str, Any]) -> DeletionNotice:
    ids = tuple(_list("conversation_ids", body["conversation_ids"]))
    return DeletionNotice(**{**body, "conversation_ids": ids})


def _parse_plain(cls: type[Any]) -> Callable[[dict[str, Any]], Body]:
    def parse(body: dict[str, Any]) -> Body:
        result: Body = cls(**body)
        return result

    return parse


_PARSERS: dict[str, Callable[[dict[str, Any]], Body]] = {
    "conversation": _parse_conversation,
    "deletion": _parse_deletion,
    "correction": _parse_plain(Correction),
    "audit_checkpoint": _parse_plain(AuditCheckpoint),
    "health": _parse_plain(GatewayHealth),
}


def from_json(data: bytes) -> Envelope:
    """Parse a canonical plaintext strictly: unknown kinds, unknown or missing fields are errors."""
    if len(data) > MAX_PLAINTEXT:
        raise EnvelopeError(f"envelope is {len(data)} bytes; the limit is {MAX_PLAINTEXT}")
    doc = _fields("envelope", strict_loads(data), {"kind", "idempotency_key", "created_at", "body"})
    kind = doc["kind"]
    if not isinstance(kind, str) or kind not in KINDS:
        raise EnvelopeError(f"unknown envelope kind {kind!r}")
    expected = {f.name for f in fields(BODY_TYPES[kind])}
    body = _fields("body", doc["body"], expected)
    try:
        return Envelope(kind, doc["idempotency_key"], doc["created_at"], _PARSERS[kind](body))  # type: ignore[arg-type]
    except TypeError as err:  # a field of the wrong type reaching a comparison
        raise EnvelopeError(str(err)) from None
