"""The egress guard: the only things that may leave the gateway upstream are typed metadata
envelopes, sealed, on the gateway's own HQ topic, under a size cap.

It is checked twice: when an envelope is queued (:func:`check_envelope`, then :func:`check_size`
on each sealed copy) and again just before publishing (:func:`check_sealed`), so a row written
into the outbox by anything else is refused rather than sent.
"""

from __future__ import annotations

import dataclasses

from gateway.crypto.errors import IntegrityError
from gateway.errors import GatewayError
from gateway.sync.envelope import MAX_SEALED, parse_sealed_header
from gateway.sync.schema import BODY_TYPES, Envelope, TagSpan, topic_gateway_id

DEFAULT_MAX_ENVELOPE_BYTES = 96 * 1024
"""Default cap on one sealed envelope: room for the largest plaintext (64 KiB) once sealed."""


class EgressError(GatewayError):
    """Something other than a typed, sealed metadata envelope tried to leave the gateway."""


_SCALARS = frozenset({str, int, float, type(None)})
_TAG_FIELDS = tuple(f.name for f in dataclasses.fields(TagSpan))


def _check_value(where: str, value: object) -> None:
    kind = type(value)
    if kind in _SCALARS:
        return
    if kind is tuple:
        for item in value:  # type: ignore[attr-defined]
            _check_value(where, item)
    elif kind is TagSpan:
        for name in _TAG_FIELDS:
            _check_value(f"{where}.{name}", getattr(value, name))
    elif isinstance(value, bytes | bytearray | memoryview):
        raise EgressError(f"{where} is bytes; only typed metadata may leave the gateway")
    else:
        raise EgressError(f"{where} has type {kind.__name__}, not a metadata type")


def check_envelope(envelope: object) -> Envelope:
    """Return ``envelope`` if it is a schema envelope whose body holds only metadata values."""
    if type(envelope) is not Envelope:
        raise EgressError(f"{type(envelope).__name__} is not an Envelope")
    body = envelope.body
    if BODY_TYPES.get(envelope.kind) is not type(body):
        raise EgressError(f"{envelope.kind} envelope with a {type(body).__name__} body")
    for f in dataclasses.fields(body):
        _check_value(f"body.{f.name}", getattr(body, f.name))
    return envelope


def check_size(payload: bytes, *, max_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES) -> None:
    """Refuse a sealed envelope over the cap."""
    if len(payload) > min(max_bytes, MAX_SEALED):
        raise EgressError(f"sealed envelope is {len(payload)} bytes; the cap is {max_bytes}")


def check_sealed(
    topic: str, payload: bytes, *, max_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES
) -> None:
    """Refuse anything but a well-formed sealed envelope within ``max_bytes`` on the HQ topic
    of the gateway that signed it."""
    check_size(payload, max_bytes=max_bytes)
    gateway_id = topic_gateway_id(topic)
    if gateway_id is None:
        raise EgressError(f"{topic!r} is not an upstream envelope topic")
    try:
        header = parse_sealed_header(payload)
    except IntegrityError as err:
        raise EgressError(f"not a sealed envelope: {err}") from None
    if header.gateway_id != gateway_id:
        raise EgressError("the envelope's signed gateway id differs from the topic")
