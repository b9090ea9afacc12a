"""Keep sentences as the recognizer heard them, for the sales adapter's training.

    .venv/bin/python scripts/keep_heard.py WORK [WORK ...]
    .venv/bin/python scripts/keep_heard.py --written WORK

Each WORK is a ``bench/tags.py --split all --work WORK`` folder holding the kept transcripts
``<set>-all-clean.json`` and ``<set>-all-noisy.json`` of a set. Without ``--written`` the sets
are spent paraphrase sets in tests/data, kept in tests/data/spent-sets-heard.tsv; with it, the
set is ``WORK/<set>.tsv``, rows of scripts/data/adapter-sentences.tsv (the same ids), kept in
scripts/data/adapter-sentences-heard.tsv. Each row's heard text is its segments joined; rows
kept before for other sets stay.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

SETS = Path(__file__).parents[1] / "tests/data"
HEARD = SETS / "spent-sets-heard.tsv"
WRITTEN_HEARD = Path(__file__).parent / "data/adapter-sentences-heard.tsv"
COLUMNS = ("set", "id", "condition", "heard")
CONDITIONS = ("clean", "noisy")


def heard_rows(work: Path, sets: Path = SETS) -> list[dict[str, str]]:
    """The heard text of every row of each set (in ``sets``) whose transcripts ``work`` keeps."""
    found = []
    for clean in sorted(work.glob("*-all-clean.json")):
        name = clean.name.removesuffix("-all-clean.json")
        with (sets / f"{name}.tsv").open(newline="", encoding="utf-8") as handle:
            ids = [row["id"] for row in csv.DictReader(handle, delimiter="\t")]
        for condition in CONDITIONS:
            kept = json.loads((work / f"{name}-all-{condition}.json").read_text(encoding="utf-8"))
            for row_id, segments in zip(ids, kept["segments"], strict=True):
                text = " ".join(segment[2] for segment in segments).strip()
                found.append({"set": f"{name}.tsv", "id": row_id, "condition": condition,
                              "heard": text})
    return found


def keep(new: list[dict[str, str]], path: Path) -> None:
    """Write ``new`` to ``path``, replacing the rows of the same sets and keeping the rest."""
    replaced = {row["set"] for row in new}
    rows = []
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["set"] not in replaced]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows + new, key=lambda r: (r["set"], r["condition"], r["id"])))
    print(f"{path}: {len(rows) + len(new)} rows ({len(new)} from {len(replaced)} sets)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, nargs="+", help="bench/tags.py work folders")
    parser.add_argument("--written", action="store_true",
                        help="the sets are WORK/<set>.tsv, rows of the adapter's own sentences")
    args = parser.parse_args()
    keep([row for work in args.work for row in heard_rows(work, work if args.written else SETS)],
         WRITTEN_HEARD if args.written else HEARD)


if __name__ == "__main__":
    main()
