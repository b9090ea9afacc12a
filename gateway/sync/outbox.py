"""The durable outbox the upstream publisher drains; the store implements :class:`Outbox`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One sealed envelope waiting to go upstream."""

    id: int
    topic: str
    payload: bytes


class Outbox(Protocol):
    """Durable queue of sealed envelopes. The publisher calls both methods from its own thread."""

    def pending(self, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` unsent items, oldest first."""
        ...

    def mark_sent(self, item_id: int) -> None:
        """Record that the upstream broker acknowledged ``item_id``; it is not offered again."""
        ...
