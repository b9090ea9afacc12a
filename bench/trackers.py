"""Smart-tracker quality: does a tracker made from 10 example sentences find other sentences
that mean the same thing, and leave the rest alone?

A tracker set (``tests/data/trackers-heldout.tsv`` by default; ``--file
tests/data/trackers-tuning.tsv`` the set the tracker unit's settings were chosen on) holds 8
concepts no taxonomy tag covers, each with 10 ``train`` sentences (a manager's examples) and
10 ``test`` sentences in other words and other trades, and 80 ``negative`` sentences (small
talk, other product talk, near misses). Each concept becomes a smart tracker from its train
sentences, as ``tagger.trackers`` would hold it; every test and negative sentence is scored
by every tracker, typed, and counts as a match at the tracker's threshold. Only aggregate
figures are printed: per concept and micro precision/recall/F1, and the time to train a
tracker. Run ``salestag-gateway models install minilm`` first (or let this script install
it into ``--models-dir``).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as every gateway program runs

from tags import prf  # noqa: E402  (bench/, beside this script)

from gateway.intel.trackers import THRESHOLD  # noqa: E402
from gateway.semantic import catalogue  # noqa: E402
from gateway.semantic.loader import load_tagger  # noqa: E402

DATA = Path(__file__).parents[1] / "tests/data/trackers-heldout.tsv"


def read_set(path: Path) -> tuple[dict[str, tuple[str, ...]], list[tuple[str, str]]]:
    """Each concept's train sentences, and the (concept or ``none``, text) rows to score."""
    examples: dict[str, list[str]] = defaultdict(list)
    scored = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row["role"] == "train":
                examples[row["concept"]].append(row["text"])
            else:
                scored.append((row["concept"], row["text"]))
    return {c: tuple(e) for c, e in examples.items()}, scored


def f1_line(label: str, tp: int, fp: int, fn: int) -> str:
    v = prf(tp, fp, fn)
    return f"{label:24} P={v['p']:.3f} R={v['r']:.3f} F1={v['f1']:.3f} ({tp}/{fp}/{fn})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DATA,
                        help="tracker set (default: %(default)s)")
    parser.add_argument("--models-dir", type=Path,
                        help="where the text model is (installed there if missing; default: a "
                             "new temporary folder)")
    args = parser.parse_args(argv)
    if args.models_dir is None:
        args.models_dir = Path(tempfile.mkdtemp(prefix="salestag-trackers-"))
    catalogue.install(args.models_dir)
    tagger = load_tagger(args.models_dir)
    if tagger is None:
        parser.error(f"the text model did not load from {args.models_dir}")
    examples, scored = read_set(args.file)
    vectors = tagger.vectors([text for _, text in scored])
    total = [0, 0, 0]
    started = time.perf_counter()
    print(f"{args.file.name}: {len(examples)} trackers, {len(scored)} sentences scored")
    for concept, sentences in examples.items():
        counts = [0, 0, 0]
        for (truth, _), vector in zip(scored, vectors, strict=True):
            match, wanted = tagger.tracker_score(sentences, vector) >= THRESHOLD, truth == concept
            counts[0] += match and wanted
            counts[1] += match and not wanted
            counts[2] += wanted and not match
        total = [a + b for a, b in zip(total, counts, strict=True)]
        print("  " + f1_line(concept, *counts))
    seconds = time.perf_counter() - started
    print(f"micro {f1_line('', *total).strip()}")
    print(f"training and scoring: {1000 * seconds / len(examples):.0f} ms a tracker")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
