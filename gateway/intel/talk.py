"""Talk metrics of a two-speaker conversation: talk ratio, monologues, questions, interruptions.

Pure functions of speaker-labelled segments. Speakers come from the badge's channels (rep on
one, customer on the other); a single-channel recording has only ``unknown`` segments and gets
no metrics: the gateway does not guess who spoke.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.intel.types import Segment

REP = "rep"
CUSTOMER = "customer"
UNKNOWN = "unknown"
SPEAKERS = (REP, CUSTOMER)

MAX_PAUSE_S = 3.0
"""A speaker's turn goes on across pauses up to this long if nobody else speaks."""
INTERRUPT_OVERLAP_S = 0.5
"""Starting this long before the other speaker finishes counts as interrupting them."""

_QUESTION = re.compile(r"[^.?!]*\?")


@dataclass(frozen=True, slots=True)
class TalkMetrics:
    """Who talked how much; every figure is None when the speakers are unknown."""

    speakers: tuple[str, ...]
    talk_s: dict[str, float] = field(default_factory=dict)
    rep_talk_ratio: float | None = None
    longest_monologue_s: float | None = None
    longest_monologue_speaker: str | None = None
    questions: dict[str, int] = field(default_factory=dict)
    interruptions: dict[str, int] = field(default_factory=dict)

    @property
    def known(self) -> bool:
        """Whether the speakers were known (two channels)."""
        return UNKNOWN not in self.speakers and bool(self.speakers)


def _merged_time(spans: Sequence[tuple[float, float]]) -> float:
    """Total length of the union of ``spans``."""
    total, cur_start, cur_end = 0.0, None, 0.0
    for start, end in sorted(spans):
        if cur_start is None or start > cur_end:
            if cur_start is not None:
                total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    if cur_start is not None:
        total += cur_end - cur_start
    return total


def count_questions(text: str) -> int:
    """Sentences ending in a question mark."""
    return sum(1 for m in _QUESTION.finditer(text) if any(ch.isalnum() for ch in m.group()))


def monologues(segments: Sequence[Segment]) -> list[tuple[str, float, float]]:
    """Turns as (speaker, start, end): runs of one speaker's segments, in time order.

    A run ends when another speaker starts, or after a pause longer than ``MAX_PAUSE_S``.
    """
    turns: list[tuple[str, float, float]] = []
    for seg in sorted(segments, key=lambda s: (s.start, s.end)):
        if turns:
            speaker, start, end = turns[-1]
            if speaker == seg.speaker and seg.start - end <= MAX_PAUSE_S:
                turns[-1] = (speaker, start, max(end, seg.end))
                continue
        turns.append((seg.speaker, seg.start, seg.end))
    return turns


def interruptions(segments: Sequence[Segment]) -> dict[str, int]:
    """How often each speaker started while the other was still talking (by the interrupter)."""
    counts = dict.fromkeys(SPEAKERS, 0)
    ordered = sorted(segments, key=lambda s: (s.start, s.end))
    for i, seg in enumerate(ordered):
        for earlier in ordered[:i]:
            if (earlier.speaker != seg.speaker and earlier.start < seg.start
                    and earlier.end - seg.start >= INTERRUPT_OVERLAP_S):
                counts[seg.speaker] = counts.get(seg.speaker, 0) + 1
                break
    return counts


def talk_metrics(segments: Sequence[Segment], *, speakers_known: bool = True) -> TalkMetrics:
    """Metrics of a conversation from its speaker-labelled segments.

    With ``speakers_known`` False (single-channel audio), or any segment whose speaker is not
    ``rep`` or ``customer``, the result says the speakers are unknown and holds no figures.
    """
    if not speakers_known or any(s.speaker not in SPEAKERS for s in segments):
        return TalkMetrics((UNKNOWN,))
    if not segments:
        return TalkMetrics(SPEAKERS, dict.fromkeys(SPEAKERS, 0.0),
                           questions=dict.fromkeys(SPEAKERS, 0),
                           interruptions=dict.fromkeys(SPEAKERS, 0))
    talk = {sp: round(_merged_time([(s.start, s.end) for s in segments if s.speaker == sp]), 2)
            for sp in SPEAKERS}
    total = talk[REP] + talk[CUSTOMER]
    turns = monologues(segments)
    longest = max(turns, key=lambda t: t[2] - t[1])
    questions = {sp: sum(count_questions(s.text) for s in segments if s.speaker == sp)
                 for sp in SPEAKERS}
    return TalkMetrics(
        speakers=SPEAKERS,
        talk_s=talk,
        rep_talk_ratio=round(talk[REP] / total, 3) if total > 0 else None,
        longest_monologue_s=round(longest[2] - longest[1], 2),
        longest_monologue_speaker=longest[0],
        questions=questions,
        interruptions=interruptions(segments),
    )
