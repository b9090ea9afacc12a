"""Retention decisions (pure): which data class of which conversation is due for deletion now.

Data classes and their clocks, all counted from the end of the conversation:

* raw audio: ``raw_audio_days`` after transcription (0: as soon as it is transcribed);
* transcript (segments, tag evidence, disclosure words): ``transcript_days``; the data key is
  destroyed, so nothing of the content can be opened again;
* tags and metrics (tag names and spans, talk figures): ``tags_days``;
* held conversations (all-party policy, no disclosure): purged after ``held_days``;
* the audit log: entries older than ``audit_days`` (pruned at a signed checkpoint).

Disk floor: while free space is below ``min_free_bytes``, raw audio goes oldest first, that of
transcribed conversations before audio still waiting for transcription. Audio being received
is never touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

DAY_S = 86400.0

#: Statuses whose audio may be deleted without losing a transcript that was still to come.
TRANSCRIBED = frozenset({"done", "held", "expired", "failed"})
#: Statuses waiting for transcription: their audio is the only copy of the conversation.
WAITING = frozenset({"queued"})


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    raw_audio_days: float = 0
    transcript_days: float = 90
    tags_days: float = 365
    held_days: float = 7
    audit_days: float = 730
    min_free_bytes: int = 512 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Facts:
    """What the sweeper knows about one conversation whose content is not deleted."""

    conversation_id: str
    status: str
    ended_at: float
    audio_bytes: int  # size of its spool file, 0 if none
    has_transcript: bool
    has_tags: bool


Action = Literal["drop_audio", "expire_transcript", "expire_tags", "purge_held"]


@dataclass(frozen=True, slots=True)
class Step:
    """Delete ``action``'s data class of one conversation, because of ``why`` (age or disk)."""

    action: Action
    conversation_id: str
    why: Literal["age", "disk"] = "age"


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    audit_cutoff: float | None  # prune audit entries older than this
    disk_short_bytes: int  # how far below the floor the disk would still be after the plan


def plan(now: float, items: Iterable[Facts], policy: RetentionPolicy, *,
         free_bytes: int | None) -> Plan:
    """The retention steps due at ``now``; ``free_bytes`` is the spool disk's free space."""
    items = sorted(items, key=lambda f: (f.ended_at, f.conversation_id))
    steps: list[Step] = []
    audio_gone: set[str] = set()

    def older(item: Facts, days: float) -> bool:
        return now - item.ended_at >= days * DAY_S

    for item in items:
        if item.status == "held" and older(item, policy.held_days):
            steps.append(Step("purge_held", item.conversation_id))
            audio_gone.add(item.conversation_id)
            continue
        if item.audio_bytes and item.status in TRANSCRIBED - {"held"} \
                and older(item, policy.raw_audio_days):
            steps.append(Step("drop_audio", item.conversation_id))
            audio_gone.add(item.conversation_id)
        if item.has_transcript and item.status == "done" and older(item, policy.transcript_days):
            steps.append(Step("expire_transcript", item.conversation_id))
        if item.has_tags and item.status in ("done", "expired") \
                and older(item, policy.tags_days):
            steps.append(Step("expire_tags", item.conversation_id))

    short = 0
    if free_bytes is not None and free_bytes < policy.min_free_bytes:
        short = policy.min_free_bytes - free_bytes
        for group in (TRANSCRIBED, WAITING):
            for item in items:
                if short <= 0:
                    break
                if item.audio_bytes and item.status in group \
                        and item.conversation_id not in audio_gone:
                    steps.append(Step("drop_audio", item.conversation_id, "disk"))
                    audio_gone.add(item.conversation_id)
                    short -= item.audio_bytes
        short = max(short, 0)
    cutoff = now - policy.audit_days * DAY_S if policy.audit_days > 0 else None
    return Plan(tuple(steps), cutoff, short)
