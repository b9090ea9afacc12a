"""The durable outbox the upstream publisher drains; the store implements :class:`Outbox`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One sealed envelope waiting to go upstream."""

    id: int
    topic: str
    payload: bytes


class Outbox(Protocol):
    """Durable queue of sealed envelopes. The publisher calls these from its own thread."""

    def pending(self, limit: int) -> list[OutboxItem]:
        """Up to ``limit`` unsent items, oldest first (at most one per conversation)."""
        ...

    def mark_sent(self, item_id: int) -> None:
        """Record that the upstream broker acknowledged ``item_id``; it is not offered again."""
        ...

    def mark_sent_many(self, item_ids: Sequence[int]) -> None:
        """:meth:`mark_sent` for several items in one durable write."""
        ...

    def reject(self, item_id: int, reason: str) -> None:
        """Take an item the egress guard refused out of the queue for good."""
        ...
