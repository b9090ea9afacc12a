"""Errors of the badge wire protocol; each carries a short, stable ``reason`` code for counters."""

from __future__ import annotations

from gateway.errors import GatewayError

#: Every reason code this package raises, for metrics that want to pre-register their labels.
REASONS = frozenset({
    "bad_magic",        # not a protocol v1 audio frame
    "bad_version",      # a frame or JSON message of another protocol version
    "truncated",        # shorter than the fixed frame header
    "length_mismatch",  # payload_len disagrees with the bytes that follow the header
    "too_large",        # payload or message above its size limit
    "unknown_codec",    # codec number or name not in Codec
    "bad_channels",     # channel count other than 1 or 2
    "bad_rate",         # sample rate outside 8000..48000
    "bad_payload",      # PCM16 payload not a whole number of samples times channels
    "bad_json",         # not UTF-8, not JSON, duplicate keys, NaN, not an object
    "bad_field",        # a field missing, unknown, of the wrong type or out of bounds
    "unknown_type",     # control message type other than session_start / session_stop
    "bad_topic",        # topic outside salestag/v1/<site>/badges/<badge_id>/<kind>
    "replay",           # a frame or start for a session that already finished
    "out_of_range",     # seq too far ahead of the reorder window or past the session's end
    "late",             # a frame that arrives after its gap was already reported
    "format_mismatch",  # codec, rate or channels differ from the session's
    "conflict",         # a start, stop or final frame contradicting what the session has
    "unknown_session",  # a stop for a session the gateway never saw
})


class ProtocolError(GatewayError):
    """Input that breaks the badge wire protocol; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class FrameError(ProtocolError):
    """A binary audio frame that cannot be accepted."""


class ControlError(ProtocolError):
    """A control or status JSON message that cannot be accepted."""


class TopicError(ProtocolError):
    """A topic outside the badge topic tree."""
