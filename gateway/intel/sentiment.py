"""Per-segment sentiment: a small lexicon scorer in the spirit of VADER, light enough for a Pi.

Words carry a valence; a negator in the three words before flips and damps it, an intensifier
strengthens it, and after "but" the clause that follows counts more. The sum is squashed into
[-1, 1]. No model file, ~20 µs per segment.
"""

from __future__ import annotations

import math
import re

POSITIVE_LABEL = "positive"
NEGATIVE_LABEL = "negative"
NEUTRAL_LABEL = "neutral"
NEUTRAL_BAND = 0.25
_ALPHA = 4.0
_NEGATION_DAMP = -0.6
_BUT_WEIGHT = 1.5

_VALENCE: dict[str, float] = {
    **dict.fromkeys(
        "good nice great fine okay ok happy glad pleased like likes liked love loved lovely "
        "helpful clear fair reasonable affordable interested interesting useful excited "
        "perfect fantastic wonderful amazing awesome excellent beautiful impressive "
        "thanks thank appreciate appreciated sure yes definitely absolutely comfortable "
        "easy simple smart solid reliable trust works worked agree agreed deal better "
        "best saving savings save cheaper win enjoy enjoyed convenient quick fast".split(), 1.0),
    **dict.fromkeys(
        "bad poor terrible awful horrible hate hated dislike annoyed annoying angry upset "
        "expensive pricey costly overpriced unaffordable worried worry concerned concern "
        "problem problems issue issues difficult hard confusing confused disappointed "
        "disappointing frustrated frustrating scam rip ripoff pushy slow broken wrong "
        "unfortunately sorry no never complaint complaints doubt skeptical suspicious "
        "risky risk waste useless unhappy unclear tired stressful stress mess nightmare "
        "worse worst fail failed failure leak leaking damage damaged lawsuit".split(), -1.0),
}
_STRONG = {"love": 1.6, "hate": -1.6, "terrible": -1.6, "awful": -1.6, "horrible": -1.6,
           "perfect": 1.5, "fantastic": 1.5, "amazing": 1.5, "excellent": 1.5, "scam": -1.8,
           "nightmare": -1.6, "worst": -1.7, "best": 1.4, "ripoff": -1.6}
_VALENCE.update(_STRONG)
_INTENSIFIERS = {"very": 1.3, "really": 1.3, "so": 1.25, "extremely": 1.5, "super": 1.3,
                 "totally": 1.3, "way": 1.3, "too": 1.2, "incredibly": 1.5, "quite": 1.1}
_NEGATORS = frozenset("not no never without hardly nor neither nobody cannot".split())
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def _words(text: str) -> list[str]:
    low = text.lower().replace("\u2019", "'").replace("n't", " not")
    return _WORD.findall(low)


def score(text: str) -> float:
    """Sentiment of ``text`` in [-1, 1]: below 0 negative, above 0 positive, 0 neutral."""
    words = _words(text)
    total = 0.0
    weight = 1.0
    for i, word in enumerate(words):
        if word == "but":
            total *= 1 / _BUT_WEIGHT
            weight = _BUT_WEIGHT
            continue
        valence = _VALENCE.get(word)
        if valence is None or (word == "no" and i + 1 < len(words)):
            continue  # "no" is a negator before a word, a negative answer on its own
        before = words[max(0, i - 3) : i]
        if any(w in _NEGATORS for w in before):
            valence *= _NEGATION_DAMP
        if i and words[i - 1] in _INTENSIFIERS:
            valence *= _INTENSIFIERS[words[i - 1]]
        total += valence * weight
    return round(total / math.sqrt(total * total + _ALPHA), 3) if total else 0.0


def label(value: float) -> str:
    """``positive``, ``negative`` or ``neutral`` for a score from :func:`score`."""
    if value >= NEUTRAL_BAND:
        return POSITIVE_LABEL
    if value <= -NEUTRAL_BAND:
        return NEGATIVE_LABEL
    return NEUTRAL_LABEL
