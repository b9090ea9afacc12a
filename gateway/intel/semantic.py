"""The semantic tagger: taxonomy tags from sentence embeddings and labelled examples.

Pure logic: the embedding model is passed in as ``embed`` (texts -> unit vectors, see
:mod:`gateway.semantic.embedder`). At construction the tagger embeds its labelled example
sentences (``data/tag-examples.tsv``: a tag, or ``none``, and a sentence; and
``data/tag-examples-heard.tsv``: the same sentences as the recognizer heard them where it
slipped, spoken by other voices and with another noise than the benchmarks use, written by
``bench/tags_heard.py``; they show the head and the nearest-example vote sentences as tiny.en
garbles them, and count :data:`HEARD_WEIGHT` of a written one in the head's training; the vote
keeps only those whose meaning the slips moved, :func:`distinct_heard`) and trains a small
softmax head over the tags and ``none`` on them, deterministically (full-batch gradient descent
from zero); the head's probabilities are blended with a vote of each class's nearest example (a
softmax over the cosine of the closest example of each class), which keeps a sentence close to
one example from being outvoted by the linear boundary; and then with a second softmax over the
text's spelling (hashed character n-grams, :mod:`gateway.intel.spelling`), trained on the same
examples, which counts the pieces of a half-heard word and a class's telling words where the
embedding blurs them. A text earns the head's most likely class when that is a tag at or above
the threshold, and so does each of its sentences or clauses (a text saying two things earns
both tags), and each window of a few tokens whose meaning alone is surer (two things said in
one breath); the keyword rules (:mod:`gateway.intel.tagger`) stay beside it: a rule that fires
(at the rules' own threshold) adds its tag too, a second tag or one the head missed, unless the
meaning of the text and of each of its clauses rules that tag out. The settings were first
chosen by five-fold cross-validation on the tuning half of the paraphrase set
(``bench/tags_cv.py``), later ones on the held-out sets already scored (see the README).
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gateway.intel import softmax as training
from gateway.intel import spelling
from gateway.intel.softmax import Vectors, softmax, train_softmax
from gateway.intel.spelling import SpellingHead, train_spelling
from gateway.intel.tagger import classify as rule_tags
from gateway.intel.tagger import tokenize

Embed = Callable[[Sequence[str]], Vectors]


class Encoder(Protocol):
    """What the tagger reads texts with (:class:`gateway.semantic.embedder.Embedder`)."""

    def __call__(self, texts: Sequence[str]) -> Vectors:
        """One unit vector per text."""

    def with_parts(self, texts: Sequence[str], parts: Sequence[Sequence[str]],
                   window: int = 0) -> tuple[Vectors, list[Vectors]]:
        """Each text's unit vector, and one for each of its ``parts`` (pieces of it), followed
        by one for each of its windows of ``window`` tokens (every half window)."""


NONE = "none"
EXAMPLES = "tag-examples.tsv"  # in gateway/intel/data/
HEARD_EXAMPLES = "tag-examples-heard.tsv"  # the same, as the recognizer heard them
HEARD_WEIGHT = 0.25  # a heard example's weight in the head's training (a written one's: 1)
THRESHOLD = 0.35  # the head's probability for its most likely tag (of 11 classes)
RULE_THRESHOLD = 0.5  # a rule's confidence that adds its tag on its own (its own threshold)
RULE_FLOOR = 0.03  # the head's probability a strong rule's tag needs to be kept
PART_THRESHOLD = 0.5  # the probability a tag of one clause of a longer text needs
WINDOW_TOKENS = 8  # a window of a longer text: this many tokens, every half window
WINDOW_THRESHOLD = 0.65  # the meaning's probability a tag of one window needs
NEIGHBOUR_WEIGHT = 0.4  # the nearest examples' share of a class's probability
NEIGHBOUR_TEMPERATURE = 0.05  # of the softmax over each class's nearest example's cosine
SPELLING_WEIGHT = 0.45  # the spelling head's share of a class's probability
HEARD_DISTINCT = 0.7  # a heard example votes as a neighbour only under this cosine to its source
# A smart tracker's unit fits 5-20 sentences: a stronger weight decay than the head's keeps it
# from drawing its boundary tight around them, and a smaller step keeps that fit stable.
TRACKER_L2 = 1e-3
TRACKER_LEARNING_RATE = 5.0
# The untagged examples' share of a smart tracker's negatives' weight (the tagged ones share
# the rest): the adapter sets the tags far apart, so sentences with no tag are the near misses.
TRACKER_NONE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class Example:
    """A labelled sentence: ``tag`` is a taxonomy tag or ``none``; ``source``, for a sentence
    as the recognizer heard it, the sentence that was spoken."""

    tag: str
    text: str
    source: str = ""


def builtin_examples() -> tuple[Example, ...]:
    """The example sentences shipped with the gateway, one tag each: the written ones, then
    the same as the recognizer heard them (when that file is there)."""
    return tuple(each_builtin_example())


def each_builtin_example() -> Iterator[Example]:
    """:func:`builtin_examples` one at a time, read a line at a time: keying a kept head on
    them this way leaves 0.2 MB of the service's heap in use, where all of them as objects at
    once left 0.4 MB (the 5331 shipped) to 2.0 MB (8820) after they were freed."""
    data = resources.files("gateway.intel").joinpath("data")
    for name in (EXAMPLES, HEARD_EXAMPLES):
        if name == EXAMPLES or data.joinpath(name).is_file():
            with data.joinpath(name).open("r", encoding="utf-8") as rows:
                yield from _examples(rows)


def read_examples(text: str) -> tuple[Example, ...]:
    """Examples from TSV text with the columns ``tag``, ``text`` and optionally ``source``."""
    return tuple(_examples(text.splitlines()))


def _examples(lines: Iterable[str]) -> Iterator[Example]:
    for row in csv.DictReader(lines, delimiter="\t"):
        yield Example(row["tag"], row["text"], row.get("source") or "")


@dataclass(frozen=True)
class Head:
    """A softmax over the tags and ``none``, p = softmax(x . w + b), blended (``neighbours``:
    their share) with a softmax over the cosine of each class's nearest example, and then
    (``spelling_share``) with the ``spelling`` head's probabilities for the same texts; and
    the embedded examples it was trained on (also the background a smart tracker's examples
    are told apart from) with the class index of each."""

    classes: tuple[str, ...]
    weights: Vectors  # (dimensions, classes)
    bias: Vectors  # (classes,)
    examples: Vectors  # (examples, dimensions), grouped by class in the order of ``classes``
    labels: npt.NDArray[np.int64]  # (examples,): the index of each example's class, ascending
    neighbours: float = 0.0
    spelling: SpellingHead | None = None
    spelling_share: float = 0.0

    def meaning(self, vectors: Vectors) -> Vectors:
        """Each class's probability for the texts embedded as ``vectors``, by their meaning
        alone (the linear head blended with the nearest examples' vote)."""
        found = self.linear(vectors)
        if not self.neighbours:
            return found
        starts = np.searchsorted(self.labels, np.arange(len(self.classes)))
        # examples @ vectors.T, not vectors @ examples.T: numpy hands OpenBLAS the examples
        # untransposed, 2-3x faster here for a handful of texts
        nearest: Vectors = np.maximum.reduceat(self.examples @ vectors.T, starts, axis=0).T
        return _blend(found, softmax(nearest / NEIGHBOUR_TEMPERATURE), self.neighbours)

    def linear(self, vectors: Vectors) -> Vectors:
        """Each class's probability for the texts embedded as ``vectors`` by the linear head
        alone."""
        return softmax(vectors @ self.weights + self.bias)

    def may_reach(self, vectors: Vectors, threshold: float) -> npt.NDArray[np.bool_]:
        """Which of the texts embedded as ``vectors`` may have a tag whose :meth:`meaning`
        reaches ``threshold``: the nearest examples' vote adds at most its share, so such a
        tag needs (threshold - share) / (1 - share) of the linear head alone."""
        linear = self.linear(vectors)
        tags = [n for n, c in enumerate(self.classes) if c != NONE]
        need = (threshold - self.neighbours) / (1 - self.neighbours)
        hopeful: npt.NDArray[np.bool_] = linear[:, tags].max(axis=1, initial=0.0) >= need
        return hopeful

    def probabilities(self, vectors: Vectors, texts: Sequence[str] = (),
                      meaning: Vectors | None = None) -> Vectors:
        """Each class's probability for the texts embedded as ``vectors``: their
        :meth:`meaning` (given, when the caller has it) blended with the spelling head's
        reading of ``texts``, when there is a spelling head."""
        found = self.meaning(vectors) if meaning is None else meaning
        if self.spelling is None or not self.spelling_share:
            return found
        if len(texts) != len(vectors):
            raise ValueError("the spelling head needs the texts of the vectors")
        return _blend(found, self.spelling.probabilities(texts), self.spelling_share)


def _blend(first: Vectors, second: Vectors, share: float) -> Vectors:
    """``second`` weighted ``share``, ``first`` the rest."""
    blended: Vectors = ((1 - share) * first + share * second).astype(np.float32)
    return blended


def train_head(vectors: Vectors, labels: Sequence[str], classes: Sequence[str],
               neighbours: float = 0.0, example_weights: Sequence[float] | None = None,
               voters: npt.NDArray[np.bool_] | None = None, *,
               learning_rate: float = training.LEARNING_RATE, l2: float = training.L2) -> Head:
    """Fit a multinomial logistic head on embeddings (see :func:`train_softmax`: classes
    balanced, each example weighted by its ``example_weights``, default 1); ``neighbours``:
    the nearest examples' share of its probabilities; ``voters``: the examples kept for that
    vote (default all); ``learning_rate`` and ``l2``: the fit's step and weight decay."""
    weights, bias = train_softmax(vectors, labels, classes, example_weights,
                                  learning_rate=learning_rate, l2=l2)
    index = {c: i for i, c in enumerate(classes)}
    indices = np.asarray([index[label] for label in labels], np.int64)
    if voters is not None:
        vectors, indices = vectors[voters], indices[voters]
    order = np.argsort(indices, kind="stable")
    return Head(tuple(classes), weights, bias, vectors[order], indices[order], neighbours)


def distinct_heard(examples: Sequence[Example], vectors: Vectors) -> npt.NDArray[np.bool_]:
    """Which examples the nearest-example vote keeps: every written one, and each heard one
    whose meaning the slips moved away from its source's (cosine under
    :data:`HEARD_DISTINCT`); a heard sentence that still reads as its source adds nothing
    to that vote but memory."""
    row = {e.text: n for n, e in enumerate(examples) if not e.source}
    keep = np.ones(len(examples), np.bool_)
    for n, example in enumerate(examples):
        source = row.get(example.source) if example.source else None
        if source is not None:
            keep[n] = float(vectors[n] @ vectors[source]) < HEARD_DISTINCT
    return keep


def fit(embed: Embed, examples: Sequence[Example]) -> Head:
    """Embed the examples and train the head, and its spelling head, on them (classes: the
    tags, then ``none``)."""
    tags = (*sorted({e.tag for e in examples} - {NONE}), NONE)
    texts = [e.text for e in examples]
    labels = [e.tag for e in examples]
    weights = [HEARD_WEIGHT if e.source else 1.0 for e in examples]
    vectors = embed(texts)
    head = train_head(vectors, labels, tags, NEIGHBOUR_WEIGHT, weights,
                      distinct_heard(examples, vectors))
    return replace(head, spelling=train_spelling(texts, labels, tags, weights),
                   spelling_share=SPELLING_WEIGHT)


def training_key(examples: Iterable[Example]) -> str:
    """A digest of everything a trained head depends on, except the model (for a cache)."""
    digest = hashlib.sha256(
        f"grouped {training.EPOCHS} {training.LEARNING_RATE} {training.L2} "
        f"{NEIGHBOUR_WEIGHT} {NEIGHBOUR_TEMPERATURE} heard {HEARD_WEIGHT} {HEARD_DISTINCT} "
        f"spelling {SPELLING_WEIGHT} {spelling.WIDTH} {spelling.SIZES} {spelling.EPOCHS} "
        f"{spelling.LEARNING_RATE}\n"
        .encode())  # "grouped": the examples are kept grouped by class
    for example in examples:
        digest.update(f"{example.tag}\t{example.text}\t{bool(example.source)}\n".encode())
    return digest.hexdigest()


@dataclass(frozen=True)
class Encoded:
    """Texts as the tagger reads them: their vectors, each text's clauses (none for a text
    of one clause) with theirs, and the vectors of each text's windows (none for a short
    text)."""

    vectors: Vectors  # (texts, dimensions)
    parts: tuple[tuple[str, ...], ...]
    part_vectors: tuple[Vectors, ...]  # (clauses of the text, dimensions) each
    window_vectors: tuple[Vectors, ...]  # (windows of the text, dimensions) each

    def __len__(self) -> int:
        return len(self.vectors)

    def __add__(self, more: Encoded) -> Encoded:
        return Encoded(np.concatenate([self.vectors, more.vectors]), self.parts + more.parts,
                       self.part_vectors + more.part_vectors,
                       self.window_vectors + more.window_vectors)


class SemanticTagger:
    """Tags sentences with an embedding model, a head trained on examples, and the rules."""

    name = "semantic"

    def __init__(self, embed: Encoder, examples: Sequence[Example] | None = None,
                 threshold: float = THRESHOLD, head: Head | None = None, *,
                 rule_floor: float = RULE_FLOOR, part_threshold: float = PART_THRESHOLD,
                 window_threshold: float = WINDOW_THRESHOLD) -> None:
        """``head``: one trained before on these examples with this ``embed`` (a cache);
        ``rule_floor``: the head's probability a strong rule's tag needs to be kept (in the
        whole text's meaning or one of its clauses');
        ``part_threshold``: the probability a tag of one clause of a longer text needs (1:
        clauses are not read on their own); ``window_threshold``: the same for a window of
        :data:`WINDOW_TOKENS` tokens (1: windows are not read)."""
        self.embed = embed
        self.threshold = threshold
        self.rule_floor = rule_floor
        self.part_threshold = part_threshold
        self.window_threshold = window_threshold
        self.head = head or fit(embed, builtin_examples() if examples is None else examples)
        self.tags = self.head.classes[:-1]
        self._cache: dict[str, Vectors] = {}
        self._trackers: dict[tuple[str, ...], Head] = {}

    def head_tags(self, probabilities: Vectors, threshold: float | None = None,
                  ) -> list[dict[str, float]]:
        """The head's tag (if any) for each sentence (a row of class probabilities): its most
        likely class when that is a tag at or above ``threshold`` (by default the
        tagger's)."""
        threshold = self.threshold if threshold is None else threshold
        found: list[dict[str, float]] = []
        for row in probabilities:
            best = int(row.argmax())
            label = self.head.classes[best]
            keep = label != NONE and row[best] >= threshold
            found.append({label: round(float(row[best]), 2)} if keep else {})
        return found

    def encode(self, texts: Sequence[str]) -> Encoded:
        """The texts' vectors and their clauses' and windows' (each read in its text's one
        run of the model)."""
        parts = [tuple(clauses(text)) if self.part_threshold < 1 else () for text in texts]
        window = WINDOW_TOKENS if self.window_threshold < 1 else 0
        vectors, pieces = self.embed.with_parts(texts, parts, window)
        pairs = list(zip(pieces, parts, strict=True))
        return Encoded(vectors, tuple(parts), tuple(v[:len(p)] for v, p in pairs),
                       tuple(v[len(p):] for v, p in pairs))

    def classify_many(self, texts: Sequence[str], competitors: Sequence[str],
                      encoded: Encoded | None = None) -> list[dict[str, float]]:
        """Taxonomy tags (without pii.*) for each text: the head's on the whole text, on each
        of its sentences or clauses and on each of its windows, plus strong rules' that the
        head does not rule out.
        ``encoded``: the first texts as :meth:`encode` gave them, when the caller has them."""
        if not texts:
            return []
        if encoded is None:
            encoded = self.encode(texts)
        elif len(encoded) < len(texts):
            encoded = encoded + self.encode(texts[len(encoded):])
        parts = encoded.parts[:len(texts)]
        flat = [part for found in parts for part in found]
        windows = encoded.window_vectors[:len(texts)]
        # an empty first piece keeps the shape when no text has a window
        window_vectors = np.concatenate([encoded.vectors[:0], *windows])
        hopeful = self.head.may_reach(window_vectors, self.window_threshold)
        # the texts, their parts and the windows that may earn a tag in one pass through the
        # heads (the windows by meaning alone: their words are not at hand for the spelling
        # head)
        vectors = np.concatenate([encoded.vectors[:len(texts)],
                                  *encoded.part_vectors[:len(texts)], window_vectors[hopeful]])
        meaning = self.head.meaning(vectors)
        read = len(texts) + len(flat)
        window_meaning = np.zeros((len(window_vectors), len(self.head.classes)), np.float32)
        window_meaning[hopeful] = meaning[read:]
        probabilities = self.head.probabilities(vectors[:read], [*texts, *flat], meaning[:read])
        whole = len(texts)
        index = {c: i for i, c in enumerate(self.head.classes)}
        part_tags = iter(self.head_tags(probabilities[whole:], self.part_threshold))
        part_meaning = iter(meaning[whole:read])
        window_tags = iter(self.head_tags(window_meaning, self.window_threshold))
        found: list[dict[str, float]] = []
        for text, tags, row, own, spans in zip(texts, self.head_tags(probabilities[:whole]),
                                               meaning[:whole], parts, windows, strict=True):
            for _ in own:
                tags = combine(tags, next(part_tags), 0.0)
                row = np.maximum(row, next(part_meaning))
            for _ in spans:
                tags = combine(tags, next(window_tags), 0.0)
            if not tokenize(text).words:
                found.append({})
                continue
            # The rules read words, as the spelling head does: whether the text's meaning
            # (or one of its clauses', where the rule's words may be) allows a rule's tag
            # is the embedding's to say.
            rules = {tag: c for tag, c in rule_tags(text, competitors).items()
                     if tag not in index or row[index[tag]] >= self.rule_floor}
            found.append(combine(tags, rules))
        return found

    def tracker_score(self, examples: tuple[str, ...], vector: Vectors) -> float:
        """How likely a sentence is one more of a smart tracker's ``examples`` (a logistic unit
        trained, once per tracker, on them against the built-in examples, those with no tag
        weighing :data:`TRACKER_NONE_SHARE` of them)."""
        head = self._trackers.get(examples)
        if head is None:
            positives = self.vectors(examples)
            vectors = np.concatenate([positives, self.head.examples])
            labels = ["yes"] * len(positives) + [NONE] * len(self.head.examples)
            weights = [1.0] * len(positives) + background_weights(
                self.head.labels, self.head.classes.index(NONE))
            head = self._trackers[examples] = train_head(
                vectors, labels, ("yes", NONE), example_weights=weights,
                learning_rate=TRACKER_LEARNING_RATE, l2=TRACKER_L2)
        return float(head.probabilities(vector[None, :])[0, 0])

    def vectors(self, texts: Sequence[str]) -> Vectors:
        """Embeddings of fixed texts (a tracker's examples), computed once."""
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            self._cache.update(zip(missing, self.embed(missing), strict=True))
        return np.stack([self._cache[t] for t in texts])


def background_weights(labels: npt.NDArray[np.int64], none: int,
                       share: float = TRACKER_NONE_SHARE) -> list[float]:
    """Each built-in example's weight as a smart tracker's negative (their mean stays 1): those
    labelled ``none`` (the class index) share ``share`` of the negatives' weight, the tagged
    ones the rest; all weigh alike when either kind is missing."""
    untagged = labels == none
    count, total = int(untagged.sum()), len(labels)
    if count in (0, total):
        return [1.0] * total
    each = (total * share / count, total * (1 - share) / (total - count))
    return [each[0] if flag else each[1] for flag in untagged]


def combine(semantic: dict[str, float], more: dict[str, float],
            threshold: float = RULE_THRESHOLD) -> dict[str, float]:
    """The head's tags plus ``more`` tags (the rules') at or above ``threshold``."""
    found = dict(semantic)
    for tag, confidence in more.items():
        if confidence >= threshold or tag in found:
            found[tag] = max(confidence, found.get(tag, 0.0))
    return dict(sorted(found.items()))


_CLAUSE_BREAK = re.compile(
    r"(?<=[.!?;])\s+|,\s+(?=(?:but|and|so|although|though|because|plus)\b)", re.IGNORECASE)


def clauses(text: str) -> list[str]:
    """The sentences and clauses of a text (split at sentence ends, semicolons and ", but",
    ", and", ", so" and the like) that have two words or more; none when the text is one clause."""
    found = [part.strip() for part in _CLAUSE_BREAK.split(text)]
    found = [part for part in found if len(tokenize(part).words) >= 2]
    return found if len(found) > 1 else []
