"""Cross-validation of the semantic tagger on the tuning half (the test half is never read).

The tuning half of ``tests/data/tag-paraphrases.tsv`` is cut into ``--folds`` folds (stratified
by tag, deterministic). For each fold a tagger is trained on the built-in examples minus every
example taken from that fold's rows (the row itself, its redacted text, and what the recognizer
heard of it), then tags the fold

- typed, and typed but cut in two at the middle word as a window break would (``cut``),
- as two-tag sentences made of two of its rows (``pairs``), and the same as two segments
  with no stop between them (``p-cut``: a window break between two sentences),
- with ``--speech clean,noisy``, through clean and noisy speech (``bench/tags.py``'s path:
  espeak-ng, the real pipeline with tiny.en; the transcripts are kept in the work folder),

and the development set (``../shared/data/dev-utterances.tsv``, never among the examples) is
tagged by a tagger trained on all examples, the validation set (``tests/data/tag-validation.tsv``,
written from the taxonomy's definitions alone) typed by one trained on all examples but those
that are one of its sentences (also cut in two: ``v-cut``; with ``--speech``, also as
``bench/tags.py --file tests/data/tag-validation.tsv --split all`` heard it: ``v-clean``,
``v-noisy``). Only aggregate figures are printed, for each value of the settings given
(``--threshold 0.4,0.5 --part-threshold 0.5,1``), so settings are chosen here and never on the
test half. Embeddings are kept in the work folder between runs.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tags import DATA, gold, heard, load_pipeline, scores, split_rows, tag_rows

from gateway.intel import Segment, SemanticTagger
from gateway.intel.redactor import redact
from gateway.intel.semantic import Example, Head, builtin_examples, fit
from gateway.intel.softmax import Vectors
from gateway.semantic import catalogue as text_catalogue
from gateway.semantic.embedder import RECIPE, Embedder

DEV = DATA.parents[2] / "../shared/data/dev-utterances.tsv"
VALIDATION = DATA.parent / "tag-validation.tsv"


class CachedEmbed:
    """The embedder, remembering every text it embedded (kept in ``path`` between runs, with
    the recipe that made the vectors: a file made another way is not read)."""

    def __init__(self, embed: Embedder, path: Path) -> None:
        self.embed, self.path = embed, path
        self.known: dict[str, Vectors] = {}
        self.known_parts: dict[tuple[int | str, ...], Vectors] = {}
        if path.exists():
            with np.load(path, allow_pickle=False) as saved:
                if "recipe" in saved and str(saved["recipe"]) == RECIPE:
                    self.known = dict(zip((str(t) for t in saved["texts"]), saved["vectors"],
                                          strict=True))

    def __call__(self, texts: Sequence[str]) -> Vectors:
        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.known.update(zip(missing, self.embed(missing), strict=True))
        return np.stack([self.known[t] for t in texts]) if texts else self.embed([])

    def with_parts(self, texts: Sequence[str], parts: Sequence[Sequence[str]],
                   window: int = 0) -> tuple[Vectors, list[Vectors]]:
        """As the embedder gives them; a text's parts and windows remembered with the text
        (in memory)."""
        keys = [(window, text, *own) for text, own in zip(texts, parts, strict=True)]
        missing = [n for n, (key, own) in enumerate(zip(keys, parts, strict=True))
                   if (own or window) and key not in self.known_parts]
        if missing:
            _, found = self.embed.with_parts([texts[n] for n in missing],
                                             [parts[n] for n in missing], window)
            self.known_parts.update((keys[n], vectors)
                                    for n, vectors in zip(missing, found, strict=True))
        empty = np.zeros((0, self.embed.dimensions), np.float32)
        return self(texts), [self.known_parts[key] if own or window else empty
                             for key, own in zip(keys, parts, strict=True)]

    def save(self) -> None:
        texts = list(self.known)
        part = self.path.with_suffix(".part.npz")
        np.savez(part, texts=np.array(texts), vectors=np.stack([self.known[t] for t in texts]),
                 recipe=np.array(RECIPE))
        part.replace(self.path)


def folds(rows: list[dict[str, str]], k: int) -> list[list[dict[str, str]]]:
    """``k`` folds, each tag's rows (and the untagged ones) dealt out in turn."""
    ordered = sorted(rows, key=lambda r: (r["tags"], r["id"]))
    return [ordered[i::k] for i in range(k)]


def without(examples: Sequence[Example], rows: list[dict[str, str]]) -> list[Example]:
    """The examples not taken from ``rows`` (nor heard from them)."""
    taken = {r["text"] for r in rows} | {redact(r["text"]).text for r in rows}
    return [e for e in examples if e.text not in taken and e.source not in taken]


def rows_of(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def typed(rows: list[dict[str, str]]) -> list[list[Segment]]:
    return [[Segment(0, 1, r["text"], r["speaker"])] for r in rows]


def cut(rows: list[dict[str, str]]) -> list[list[Segment]]:
    """Each row cut in two at its middle word, as a window break of the recognizer cuts a
    sentence (the first half without its end; a row of one word stays whole)."""
    found = []
    for r in rows:
        words = r["text"].split()
        half = len(words) // 2
        parts = [" ".join(words[:half]).rstrip(".,;:!?"), " ".join(words[half:])] if half else [
            r["text"]]
        found.append([Segment(0, 1, part, r["speaker"]) for part in parts])
    return found


def split_pairs(pairs: list[dict[str, str]]) -> list[list[Segment]]:
    """Each two-tag sentence of :func:`paired` as two segments, the first without its end
    (a window break where the recognizer left out the full stop)."""
    found = []
    for r in pairs:
        found.append([Segment(0, 1, r["first"].rstrip(".!?"), r["speaker"]),
                      Segment(1, 2, r["second"], r["speaker"])])
    return found


def paired(fold: list[dict[str, str]]) -> list[dict[str, str]]:
    """Two-tag sentences made of a fold's rows: each tagged row followed by the next one of the
    same speaker with another tag (as one segment), the tags united."""
    tagged = [r for r in fold if gold(r)]
    found = []
    for n, first in enumerate(tagged):
        for second in tagged[n + 1:] + tagged[:n]:
            if second["speaker"] == first["speaker"] and not gold(first) & gold(second):
                found.append({"id": f"{first['id']}+{second['id']}", "speaker": first["speaker"],
                              "text": f"{first['text']} {second['text']}",
                              "first": first["text"], "second": second["text"],
                              "tags": ";".join(sorted(gold(first) | gold(second)))})
                break
    return found


def fold_heads(embed: CachedEmbed, rows: list[dict[str, str]], k: int) -> list[Head]:
    """For each fold, the head trained on the examples not taken from it."""
    examples = builtin_examples()
    return [fit(embed, without(examples, fold)) for fold in folds(rows, k)]


def cross_validate(embed: CachedEmbed, rows: list[dict[str, str]], conditions: dict[str, Any],
                   heads: list[Head], settings: dict[str, float]) -> dict[str, tuple[list[Any],
                                                                                    list[Any]]]:
    """For every condition, the rows and their tags, each row tagged by the tagger that did
    not learn it; ``pairs``: the typed two-tag sentences of :func:`paired`; ``p-cut``: the same
    as two segments (:func:`split_pairs`)."""
    found: dict[str, list[set[str]]] = {name: [set() for _ in rows] for name in conditions}
    index = {r["id"]: i for i, r in enumerate(rows)}
    pairs: list[dict[str, str]] = []
    pair_tags: list[set[str]] = []
    pair_cut_tags: list[set[str]] = []
    for fold, head in zip(folds(rows, len(heads)), heads, strict=True):
        tagger = SemanticTagger(embed, head=head, **settings)
        for name, transcripts in conditions.items():
            tags = tag_rows([transcripts[index[r["id"]]] for r in fold], tagger)
            for row, got in zip(fold, tags, strict=True):
                found[name][index[row["id"]]] = got
        fold_pairs = paired(fold)
        pairs += fold_pairs
        pair_tags += tag_rows(typed(fold_pairs), tagger)
        pair_cut_tags += tag_rows(split_pairs(fold_pairs), tagger)
    result: dict[str, tuple[list[Any], list[Any]]] = {
        name: (rows, got) for name, got in found.items()}
    result["pairs"] = (pairs, pair_tags)
    result["p-cut"] = (pairs, pair_cut_tags)
    return result


def errors(rows: list[dict[str, str]], found: list[set[str]], transcripts: Any) -> None:
    """The tuning rows tagged wrongly (never used on the test half)."""
    for row, got, parts in zip(rows, found, transcripts, strict=True):
        want = {t for t in gold(row) if not t.startswith("pii.")}
        got = {t for t in got if not t.startswith("pii.")}
        if got != want:
            heard_text = " | ".join(s.text for s in parts)
            print(f"    {row['id']} {row['speaker']:8} want {sorted(want)} got {sorted(got)}: "
                  f"{heard_text}")


def line(name: str, result: dict[str, Any]) -> str:
    m = result["micro_no_pii"]
    recalls = {t: v["r"] for t, v in result["per_tag"].items()
               if v["tp"] + v["fn"] and not t.startswith("pii.")}
    low = sorted(recalls.items(), key=lambda kv: kv[1])[:3]
    return (f"{name:7} F1={m['f1']:.3f} P={m['p']:.3f} R={m['r']:.3f} fp={m['fp']:3} "
            f"fn={m['fn']:3} low: " + ", ".join(f"{t} {r:.2f}" for t, r in low))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--speech", help="also through speech: clean, noisy or clean,noisy")
    parser.add_argument("--snr-db", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2, help="whisper.cpp threads")
    parser.add_argument("--per-tag", action="store_true", help="print per-tag figures too")
    parser.add_argument("--errors", action="store_true", help="print the tuning rows missed")
    for name in SETTINGS:
        parser.add_argument(f"--{name.replace('_', '-')}",
                            help=f"values of the tagger's {name}, comma-separated")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-tags-cv-"))
    work.mkdir(parents=True, exist_ok=True)
    text_catalogue.install(work / "models")
    embed = CachedEmbed(Embedder.load(work / "models"), work / "embeddings.npz")
    rows = split_rows("tune")
    conditions: dict[str, Any] = {"typed": typed(rows), "cut": cut(rows)}
    speech = [(n, s) for n, s in (("clean", None), ("noisy", args.snr_db))
              if n in (args.speech or "").split(",")]
    dev, validation = rows_of(DEV), rows_of(VALIDATION)
    valid_heard: dict[str, list[list[Segment]]] = {}
    if speech:
        caches = {name: (work / f"tune-{name}.json",
                         work / f"{VALIDATION.stem}-all-{name}.json") for name, _ in speech}
        cached = all(path.exists() for pair in caches.values() for path in pair)
        pipeline = None if cached else load_pipeline(work, args.threads)
        for name, snr in speech:
            conditions[name] = heard(pipeline, rows, work, snr, caches[name][0])
            valid_heard[name] = heard(pipeline, validation, work, snr, caches[name][1])
    print(f"tune half: {len(rows)} sentences, {sum(len(gold(r)) for r in rows)} tags, "
          f"{args.folds} folds; dev set: {len(dev)} sentences; validation set: "
          f"{len(validation)} sentences (micro figures without pii.*)")
    grid = {n: [float(v) for v in getattr(args, n).split(",")] for n in SETTINGS
            if getattr(args, n)}
    heads = fold_heads(embed, rows, args.folds)
    whole = fit(embed, builtin_examples())
    unseen = fit(embed, without(builtin_examples(), validation))
    for values in itertools.product(*grid.values()):
        settings = dict(zip(grid, values, strict=True))
        print("settings:", settings or "defaults")
        found = cross_validate(embed, rows, conditions, heads, settings)
        results = {name: scores(*pair) for name, pair in found.items()}
        results["dev"] = scores(dev, tag_rows(typed(dev), SemanticTagger(embed, head=whole,
                                                                         **settings)))
        unseen_tagger = SemanticTagger(embed, head=unseen, **settings)
        results["valid"] = scores(validation, tag_rows(typed(validation), unseen_tagger))
        results["v-cut"] = scores(validation, tag_rows(cut(validation), unseen_tagger))
        for name, transcripts in valid_heard.items():
            results[f"v-{name}"] = scores(validation, tag_rows(transcripts, unseen_tagger))
        for name, result in results.items():
            print("  " + line(name, result))
            if args.per_tag:
                for tag, v in result["per_tag"].items():
                    print(f"    {name:6} {tag:22} P={v['p']:.3f} R={v['r']:.3f} "
                          f"({v['tp']}/{v['fp']}/{v['fn']})")
            if args.errors and name in conditions:
                errors(rows, found[name][1], conditions[name])
    embed.save()
    return 0


SETTINGS = ("threshold", "rule_floor", "part_threshold")

if __name__ == "__main__":
    raise SystemExit(main())
