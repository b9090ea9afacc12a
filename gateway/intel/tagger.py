"""Rule-based tagging of transcript text against the sales taxonomy.

Text is normalised (lower case, contractions expanded, light stemming) and matched against the
concept lexicons and phrase patterns of :mod:`gateway.intel.lexicon`. Every rule that fires adds
evidence for its tag; the evidence is combined as a noisy-OR into the tag's confidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from gateway.intel import lexicon
from gateway.intel.distance import edit_distance
from gateway.intel.rules import RULES as SPECS
from gateway.intel.rules import R

THRESHOLD = 0.5
NEGATION_WINDOW = 4

_CONTRACTIONS = (
    (re.compile(r"\bcan'?t\b"), "can not"),
    (re.compile(r"\bwon'?t\b"), "will not"),
    (re.compile(r"\bain'?t\b"), "is not"),
    (re.compile(r"\b(\w+)n't\b"), r"\1 not"),
    (re.compile(r"\blet's\b"), "let us"),
    (re.compile(r"\b(it|that|what|there|here|he|she|who|where|how|now)'s\b"), r"\1 is"),
    (re.compile(r"'s\b"), ""),
    (re.compile(r"'re\b"), " are"),
    (re.compile(r"'m\b"), " am"),
    (re.compile(r"'ll\b"), " will"),
    (re.compile(r"'ve\b"), " have"),
    (re.compile(r"'d\b"), " would"),
    (re.compile(r"\bgonna\b"), "going to"),
    (re.compile(r"\bwanna\b"), "want to"),
    (re.compile(r"\bgotta\b"), "got to"),
    (re.compile(r"\bkinda\b"), "kind of"),
    (re.compile(r"\bok\b"), "okay"),
    (re.compile(r"%"), " percent "),
    (re.compile(r"\[phone\]"), " phonenumber "),
    (re.compile(r"\[email\]"), " emailaddress "),
    (re.compile(r"\[card\]"), " cardnumber "),
    (re.compile(r"\[ssn\]"), " ssnumber "),
    (re.compile(r"\[address\]"), " streetaddress "),
)
_WORD = re.compile(r"[a-z0-9]+|[.,;:!?]+")
_CLAUSE_START = frozenset("but so because and although though while whereas".split())
_QUESTION_START = frozenset(
    "can could would will do does did is are should may shall have has how when where what "
    "which who why".split()
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """Stems and words of a normalised text, punctuation before a word, and whether it asks.

    ``clauses`` holds the index of the first word of every clause after the first (after a
    full stop, semicolon, colon, question or exclamation mark, or at a conjunction such as "but"
    or "so"; a comma alone does not end a clause)."""

    stems: tuple[str, ...]
    words: tuple[str, ...]
    breaks: frozenset[int]
    question: bool
    vocab: frozenset[str]
    clauses: tuple[int, ...] = ()


def stem(word: str) -> str:
    """A light suffix stripper that maps inflections of one word onto one key."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix, repl in (("ies", "y"), ("ied", "y"), ("ing", ""), ("ed", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + repl
            if not repl and len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    else:
        if word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


@lru_cache(maxsize=4096)
def tokenize(text: str) -> Tokens:
    """Normalise ``text`` into stems, clause breaks and a question flag."""
    low = text.lower().replace("\u2019", "'").replace("-", " ")
    for pattern, repl in _CONTRACTIONS:
        low = pattern.sub(repl, low)
    words: list[str] = []
    breaks: set[int] = set()
    ends: set[int] = set()  # after a sentence or clause end (not a comma)
    for match in _WORD.finditer(low):
        word = match.group()
        if word[0].isalnum():
            words.append(word)
        else:
            breaks.add(len(words))
            if word.strip(","):
                ends.add(len(words))
    question = "?" in text or (bool(words) and words[0] in _QUESTION_START and "." not in text)
    stems = tuple(map(stem, words))
    clauses = sorted(ends | {i for i, word in enumerate(words) if i and word in _CLAUSE_START})
    return Tokens(stems, tuple(words), frozenset(breaks), question, frozenset(stems),
                  tuple(i for i in clauses if 0 < i < len(words)))


def phrase(text: str) -> tuple[str, ...]:
    """The stem sequence of a lexicon phrase."""
    return tokenize(text).stems


# Phrases (stem sequences) indexed by their first stem.
Phrases = dict[str, tuple[tuple[str, ...], ...]]


@dataclass(frozen=True, slots=True)
class Element:
    """One step of a pattern: any of several phrases, at most ``gap`` tokens after the last."""

    phrases: Phrases
    gap: int


@dataclass(frozen=True, slots=True)
class Rule:
    """A compiled rule: evidence for ``tag`` with ``weight`` when the elements occur in order."""

    tag: str
    weight: float
    elements: tuple[Element, ...]
    block_negation: bool = True
    question: bool | None = None
    unless: Phrases | None = None
    own: frozenset[str] = frozenset()
    keys: tuple[frozenset[str], ...] = ()  # first stems of each element, for a quick pre-check


def _index(phrases: Iterable[tuple[str, ...]]) -> Phrases:
    index: dict[str, list[tuple[str, ...]]] = {}
    for option in phrases:
        if option:
            index.setdefault(option[0], []).append(option)
    return {first: tuple(options) for first, options in index.items()}


def _item(item: str) -> Phrases:
    """The phrases of one pattern item: concept names and literal alternatives."""
    texts: list[str] = []
    for part in item.split("|"):
        if part.isupper():
            texts.extend(lexicon.CONCEPTS[part])
        else:
            texts.append(part.replace("_", " "))
    return _index(map(phrase, texts))


def compile_rule(spec: R) -> Rule:
    """Turn a rule written in the pattern syntax into matchable elements."""
    elements: list[Element] = []
    gap = 0
    for item in spec.pattern.split():
        if item.startswith("~"):
            gap = int(item[1:])
            continue
        elements.append(Element(_item(item), gap))
        gap = 0
    own = frozenset(
        word for e in elements for options in e.phrases.values() for o in options for word in o
    )
    unless = _index(map(phrase, spec.unless)) if spec.unless else None
    keys = tuple(frozenset(e.phrases) for e in elements)
    return Rule(spec.tag, spec.weight, tuple(elements), spec.block_negation, spec.question,
                unless, own, keys)


def _find(stems: Sequence[str], phrases: Phrases, lo: int, hi: int) -> list[tuple[int, int]]:
    """Spans (start, end) of any phrase that starts within [lo, hi]."""
    spans = []
    for start in range(lo, min(hi, len(stems) - 1) + 1):
        for option in phrases.get(stems[start], ()):
            if len(option) == 1 or tuple(stems[start : start + len(option)]) == option:
                spans.append((start, start + len(option)))
    return spans


def _match(stems: Sequence[str], elements: tuple[Element, ...], lo: int, hi: int) -> list[
    tuple[int, int]
]:
    """All (start, end) placements of ``elements`` in order, the first starting in [lo, hi]."""
    first, rest = elements[0], elements[1:]
    found = []
    for start, end in _find(stems, first.phrases, lo, hi):
        if not rest:
            found.append((start, end))
        else:
            found.extend((start, tail) for _, tail in _match(stems, rest, end, end + rest[0].gap))
    return found


def _negated(tokens: Tokens, start: int, end: int, rule: Rule) -> bool:
    """Is there a negator shortly before the match (same clause) or inside it?"""
    lo = start
    while lo > 0 and start - lo < NEGATION_WINDOW and lo not in tokens.breaks:
        lo -= 1
    return any(
        tokens.stems[i] in _NEGATORS and tokens.stems[i] not in rule.own for i in range(lo, end)
    )


def fires(rule: Rule, tokens: Tokens) -> bool:
    """Does ``rule`` match, respecting its question, negation and ``unless`` conditions?"""
    if rule.question is not None and rule.question != tokens.question:
        return False
    if any(present.isdisjoint(tokens.vocab) for present in rule.keys):
        return False
    for start, end in _match(tokens.stems, rule.elements, 0, len(tokens.stems)):
        if rule.block_negation and _negated(tokens, start, end, rule):
            continue
        if rule.unless and _vetoed(tokens, start, end, rule.unless):
            continue
        return True
    return False


def _vetoed(tokens: Tokens, start: int, end: int, unless: Phrases) -> bool:
    """Does a veto phrase start within the clause(s) that the match spans?"""
    lo = max((c for c in tokens.clauses if c <= start), default=0)
    hi = min((c for c in tokens.clauses if c >= end), default=len(tokens.stems))
    return any(s < hi for s, _ in _find(tokens.stems, unless, lo, hi - 1))


def classify(text: str, competitors: Sequence[str] = lexicon.DEFAULT_COMPETITORS) -> dict[
    str, float
]:
    """Taxonomy tags (without pii.*) for ``text``, each with its confidence in [0, 1]."""
    tokens = tokenize(text)
    if not tokens.stems:
        return {}
    doubt: dict[str, float] = {}
    for rule in RULES:
        if fires(rule, tokens):
            doubt[rule.tag] = doubt.get(rule.tag, 1.0) * (1.0 - rule.weight)
    if mentions_brand(tokens, brand_keys(tuple(competitors))):
        tag = "competitor.mention"
        doubt[tag] = doubt.get(tag, 1.0) * (1.0 - BRAND_WEIGHT)
    return {
        tag: round(1.0 - rest, 2) for tag, rest in sorted(doubt.items()) if 1.0 - rest >= THRESHOLD
    }


BRAND_WEIGHT = 0.85


@lru_cache(maxsize=32)
def brand_keys(names: tuple[str, ...]) -> frozenset[str]:
    """Competitor names with spaces and punctuation removed ("Sun Run" == "SunRun")."""
    keys = {"".join(tokenize(name).words) for name in names}
    return frozenset(keys | {key + "s" for key in keys} - {"", "s"})


def mentions_brand(tokens: Tokens, keys: frozenset[str]) -> bool:
    """Does any run of one to four words, run together, spell a competitor's name, or nearly
    (as the recognizer mishears it: "renewal my anderson", "sun runs", "vivant"; see
    :func:`near_names`)?"""
    words = tokens.words
    runs = {"".join(words[start : start + size])
            for size in range(1, 5) for start in range(len(words) - size + 1)}
    if not runs.isdisjoint(keys):
        return True
    near = near_names(keys)
    return any(edit_distance(run, name, budget) <= budget
               for run in runs for name, budget in near.get((run[:1], len(run)), ()))


BRAND_LETTERS_PER_EDIT = 7


@lru_cache(maxsize=32)
def near_names(keys: frozenset[str]) -> dict[tuple[str, int], tuple[tuple[str, int], ...]]:
    """The names a run of words may miss by a letter or two, each with the edits allowed: one
    in seven letters, at most two; none in the first letter nor below seven letters ("Tesla",
    "Lowe's" and "Sunrun", not "the sun ran", must be heard exactly). Indexed by a run's first
    letter and length: a name is listed under every length within its edits of its own, so a
    run is compared only with the names it could be."""
    index: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for name in sorted(key for key in keys if key[:-1] not in keys):  # no plurals
        budget = min(len(name) // BRAND_LETTERS_PER_EDIT, 2)
        if not budget:
            continue
        for length in range(len(name) - budget, len(name) + budget + 1):
            index.setdefault((name[0], length), []).append((name, budget))
    return {at: tuple(names) for at, names in index.items()}


_NEGATORS = frozenset(lexicon.NEGATORS)
RULES: tuple[Rule, ...] = tuple(compile_rule(spec) for spec in SPECS)
