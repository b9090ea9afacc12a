"""Levenshtein distance between two sequences: the letters of two words (a competitor's name as
the recognizer misheard it) or the words of two sentences (word error rate)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence


def edit_distance(a: Sequence[Hashable], b: Sequence[Hashable], limit: int | None = None) -> int:
    """Substitutions, insertions and deletions that turn ``a`` into ``b``; with ``limit``,
    ``limit + 1`` once the distance exceeds it.

    Myers' bit-parallel algorithm as Hyyrö states it for whole sequences: one column of the
    table is a pair of bit vectors (one bit per item of ``a``, a Python integer however long
    ``a`` is), so each item of ``b`` costs a few integer operations instead of a row of cells.
    """
    beyond = (max(len(a), len(b)) if limit is None else limit) + 1
    if abs(len(a) - len(b)) >= beyond:
        return beyond
    if not a or not b:
        return min(len(a) + len(b), beyond)
    matches: dict[Hashable, int] = {}
    for i, item in enumerate(a):
        matches[item] = matches.get(item, 0) | 1 << i
    everything, last = (1 << len(a)) - 1, 1 << (len(a) - 1)
    plus, minus, score = everything, 0, len(a)  # vertical +1 / -1 steps; the last row's cell
    for item in b:
        equal = matches.get(item, 0)
        vertical = equal | minus
        horizontal = (((equal & plus) + plus) ^ plus) | equal
        up = minus | ~(horizontal | plus)
        down = plus & horizontal
        score += 1 if up & last else -1 if down & last else 0
        up = up << 1 | 1  # the first row counts insertions: every step along it is +1
        down <<= 1
        plus = (down | ~(vertical | up)) & everything
        minus = up & vertical & everything
    return min(score, beyond)
