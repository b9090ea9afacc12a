"""Levenshtein distance between two sequences: the letters of two words (a competitor's name as
the recognizer misheard it) or the words of two sentences (word error rate)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable], limit: int | None = None) -> int:
    """Substitutions, insertions and deletions that turn ``a`` into ``b``; with ``limit``,
    ``limit + 1`` once the distance exceeds it (only the band of cells within ``limit`` of the
    diagonal is computed)."""
    if limit is None:
        limit = max(len(a), len(b))
    beyond = limit + 1
    if abs(len(a) - len(b)) > limit:
        return beyond
    previous = [min(j, beyond) for j in range(len(b) + 1)]
    for i, item in enumerate(a, 1):
        low, high = max(1, i - limit), min(len(b), i + limit)
        current = [beyond] * (len(b) + 1)
        current[0] = min(i, beyond)
        for j in range(low, high + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (item != b[j - 1]))
        if min(current[low - 1 : high + 1]) > limit:
            return beyond
        previous = current
    return min(previous[-1], beyond)
