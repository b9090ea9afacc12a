"""Acknowledgements (protocol v1, additive): gateway -> badge on the badge's ``ack`` topic.

An ack tells a badge, per session, up to which ``seq`` the gateway has stored everything it
will ever take, so the badge can free those frames and resend only the rest. It also carries the
session's state, and why the gateway is not taking frames when it is not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from gateway.protocol.control import VERSION, _load
from gateway.protocol.errors import ControlError, FrameError
from gateway.protocol.frames import MAX_SEQ, check_session_id

#: ``opted_out``: the customer opted out; stop recording the session and discard all its audio.
AckStatus = Literal["receiving", "finished", "refused", "opted_out"]
#: Why frames are refused: keep them and resend later (or, for ``session_too_long``, end the
#: session and record on in a new one).
RefusalReason = Literal["disk_full", "rate_limited", "session_too_long"]
STATUSES: tuple[AckStatus, ...] = ("receiving", "finished", "refused", "opted_out")
REFUSALS: tuple[RefusalReason, ...] = ("disk_full", "rate_limited", "session_too_long")
MAX_RETRY_AFTER_S = 3600


@dataclass(frozen=True, slots=True)
class Ack:
    """Every frame ``0..seq`` of the session is stored (or was given up as a gap)."""

    session_id: str
    seq: int | None
    status: AckStatus = "receiving"
    reason: RefusalReason | None = None
    retry_after_s: int | None = None

    def __post_init__(self) -> None:
        try:
            check_session_id(self.session_id)
        except FrameError as exc:
            raise ControlError(str(exc), reason=exc.reason) from None
        seq: object = self.seq
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)
                                or not 0 <= seq <= MAX_SEQ):
            raise ControlError(f"seq must be an integer in 0..{MAX_SEQ}", reason="bad_field")
        if self.status not in STATUSES:
            raise ControlError(f"status must be one of {', '.join(STATUSES)}",
                               reason="bad_field")
        if (self.reason is None) != (self.status != "refused"):
            raise ControlError("reason is required for, and only for, refused",
                               reason="bad_field")
        if self.reason is not None and self.reason not in REFUSALS:
            raise ControlError(f"reason must be one of {', '.join(REFUSALS)}",
                               reason="bad_field")
        retry: object = self.retry_after_s
        if retry is not None and (isinstance(retry, bool) or not isinstance(retry, int)
                                  or not 0 <= retry <= MAX_RETRY_AFTER_S):
            raise ControlError(f"retry_after_s must be an integer in 0..{MAX_RETRY_AFTER_S}",
                               reason="bad_field")


_FIELDS = ("session_id", "seq", "status", "reason", "retry_after_s")


def encode_ack(ack: Ack) -> bytes:
    """Serialize an ack to compact JSON (``seq`` is always present, maybe ``null``)."""
    body: dict[str, object] = {"v": VERSION, "session_id": ack.session_id, "seq": ack.seq,
                               "status": ack.status}
    if ack.reason is not None:
        body["reason"] = ack.reason
    if ack.retry_after_s is not None:
        body["retry_after_s"] = ack.retry_after_s
    return json.dumps(body, separators=(",", ":")).encode()


def parse_ack(data: bytes) -> Ack:
    """Parse an ack; raises ControlError (never anything else) for bad input."""
    body = _load(data)
    unknown = sorted(set(body) - set(_FIELDS))
    if unknown:
        raise ControlError(f"unknown field {unknown[0][:64]!r}", reason="bad_field")
    if "session_id" not in body or "seq" not in body or "status" not in body:
        raise ControlError("session_id, seq and status are required", reason="bad_field")
    return Ack(**body)
