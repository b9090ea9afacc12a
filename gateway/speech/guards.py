"""Hallucination guards: pure checks that drop segments an engine made up.

Whisper invents text over silence and noise ("Thank you.", "Thanks for watching!") and can loop
("the price, the price, the price ..."). A segment is dropped when

- it lies over silence: too little of its span was voiced according to the VAD;
- the engine itself doubts it: a high no-speech probability with a low log-probability (the
  rule Whisper uses), or a very low mean token probability;
- it is repetitive: the text compresses too well, or one n-gram repeats back to back.

A decoding loop over real speech ("Can you come back on Friday? Can you come back on Friday?
...") is first collapsed to one copy of each repeated sentence; only if the text is still
repetitive is the segment dropped.
"""

from __future__ import annotations

import dataclasses
import math
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from gateway.intel.types import Segment

_WORD = re.compile(r"[\w']+")
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Thresholds of the guards; the defaults follow Whisper's own where it has them."""

    min_voiced: float = 0.15
    no_speech_prob: float = 0.6
    logprob_floor: float = -1.0
    min_probability: float = 0.25
    max_compression_ratio: float = 2.4
    max_ngram_repeats: int = 3
    max_ngram: int = 6


DEFAULT_GUARDS = GuardConfig()


def compression_ratio(text: str) -> float:
    """Bytes of ``text`` over bytes of its zlib compression (Whisper's repetition signal)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 0.0


def longest_repeat(text: str, max_n: int = 6) -> int:
    """How many times in a row the most-repeated n-gram (n <= ``max_n``) occurs."""
    words = [w.lower() for w in _WORD.findall(text)]
    best = 1 if words else 0
    for n in range(1, max_n + 1):
        for start in range(n):
            run, prev = 1, None
            for i in range(start, len(words) - n + 1, n):
                gram = tuple(words[i : i + n])
                run = run + 1 if gram == prev else 1
                prev = gram
                best = max(best, run)
    return best


def collapse_loops(text: str) -> str:
    """``text`` with back-to-back repeats of the same sentence reduced to one copy."""
    out: list[str] = []
    for match in _SENTENCE.finditer(text):
        sentence = match.group().strip()
        if sentence and (not out or _norm(sentence) != _norm(out[-1])):
            out.append(sentence)
    # a loop cut off by the token limit ends in the start of one more copy: drop it
    if len(out) > 1 and out[-1][-1] not in ".?!" and _norm(out[-2]).startswith(_norm(out[-1])):
        out.pop()
    return " ".join(out)


def _norm(sentence: str) -> str:
    return " ".join(w.lower() for w in _WORD.findall(sentence))


def voiced_fraction(voiced: Sequence[bool], frame_s: float, start: float, end: float) -> float:
    """Share of the VAD frames between ``start`` and ``end`` (seconds) that were voiced."""
    first = max(0, int(start / frame_s))
    last = min(len(voiced), max(first + 1, math.ceil(end / frame_s)))
    frames = voiced[first:last]
    return sum(frames) / len(frames) if frames else 0.0


def rejection(segment: Segment, guards: GuardConfig = DEFAULT_GUARDS) -> str | None:
    """Why the engine's evidence or the text itself rules ``segment`` out, or None."""
    no_speech = getattr(segment, "no_speech_prob", math.nan)
    logprob = getattr(segment, "avg_logprob", math.nan)
    probability = getattr(segment, "probability", math.nan)
    if no_speech > guards.no_speech_prob and not logprob >= guards.logprob_floor:
        return "no-speech"
    if probability < guards.min_probability:
        return "low-confidence"
    if compression_ratio(segment.text) > guards.max_compression_ratio:
        return "compression"
    if longest_repeat(segment.text, guards.max_ngram) > guards.max_ngram_repeats:
        return "repetition"
    return None


def keep(
    segments: Sequence[Segment],
    voiced: Sequence[bool] | None = None,
    frame_s: float = 0.03,
    guards: GuardConfig = DEFAULT_GUARDS,
) -> tuple[list[Segment], dict[str, int]]:
    """The segments that pass every guard, and how many each guard dropped (or collapsed).

    ``voiced`` holds the VAD's per-frame decisions over the recording the segment times refer
    to; without it the silence guard is skipped.
    """
    kept: list[Segment] = []
    dropped: dict[str, int] = {}
    for segment in segments:
        reason = rejection(segment, guards)
        if reason in ("compression", "repetition"):
            collapsed = dataclasses.replace(segment, text=collapse_loops(segment.text))
            if rejection(collapsed, guards) is None:
                segment, reason = collapsed, None
                dropped["collapsed"] = dropped.get("collapsed", 0) + 1
        if reason is None and voiced is not None and (
            voiced_fraction(voiced, frame_s, segment.start, segment.end) < guards.min_voiced
        ):
            reason = "silence"
        if reason is None:
            kept.append(segment)
        else:
            dropped[reason] = dropped.get(reason, 0) + 1
    return kept, dropped
