"""The newest ack the gateway sent each badge session, for requests waiting on one."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gateway.protocol.acks import Ack


@dataclass
class AckBoard:
    """The newest ack per (badge, session), with waiting for one that covers a seq."""

    _acks: dict[tuple[str, str], Ack] = field(default_factory=dict)
    _changed: threading.Condition = field(default_factory=threading.Condition)

    def post(self, badge_id: str, ack: Ack) -> None:
        with self._changed:
            self._acks[(badge_id, ack.session_id)] = ack
            self._changed.notify_all()

    def get(self, badge_id: str, session_id: str) -> Ack | None:
        with self._changed:
            return self._acks.get((badge_id, session_id))

    def wait(self, badge_id: str, session_id: str, seq: int | None, timeout_s: float,
             since: Ack | None) -> Ack | None:
        """An ack that covers ``seq`` (or any new one for ``seq=None``, or a refusal)."""
        def settled() -> bool:
            ack = self._acks.get((badge_id, session_id))
            if ack is None or (seq is None and ack is since):
                return False
            return (ack.status != "receiving" or seq is None
                    or (ack.seq is not None and ack.seq >= seq))

        with self._changed:
            self._changed.wait_for(settled, timeout_s)
            return self._acks.get((badge_id, session_id))
