"""Keep spent paraphrase sets as the recognizer heard them, for the sales adapter's training.

    .venv/bin/python scripts/keep_heard.py WORK [WORK ...]

Each WORK is a ``bench/tags.py --split all --work WORK`` folder holding the kept transcripts
``<set>-all-clean.json`` and ``<set>-all-noisy.json`` of a set in tests/data. Each row's heard
text (its segments joined) is written to tests/data/spent-sets-heard.tsv with the set, the row's
id and the condition; rows already kept for other sets stay.
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

SETS = Path(__file__).parents[1] / "tests/data"
HEARD = SETS / "spent-sets-heard.tsv"
COLUMNS = ("set", "id", "condition", "heard")
CONDITIONS = ("clean", "noisy")


def heard_rows(work: Path) -> list[dict[str, str]]:
    """The heard text of every row of each set whose transcripts ``work`` keeps."""
    found = []
    for clean in sorted(work.glob("*-all-clean.json")):
        name = clean.name.removesuffix("-all-clean.json")
        with (SETS / f"{name}.tsv").open(newline="", encoding="utf-8") as handle:
            ids = [row["id"] for row in csv.DictReader(handle, delimiter="\t")]
        for condition in CONDITIONS:
            kept = json.loads((work / f"{name}-all-{condition}.json").read_text(encoding="utf-8"))
            for row_id, segments in zip(ids, kept["segments"], strict=True):
                text = " ".join(segment[2] for segment in segments).strip()
                found.append({"set": f"{name}.tsv", "id": row_id, "condition": condition,
                              "heard": text})
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", type=Path, nargs="+", help="bench/tags.py work folders")
    new = [row for work in parser.parse_args().work for row in heard_rows(work)]
    replaced = {row["set"] for row in new}
    rows = []
    if HEARD.is_file():
        with HEARD.open(newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.DictReader(handle, delimiter="\t") if r["set"] not in replaced]
    with HEARD.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, COLUMNS, delimiter="\t", lineterminator="\n")
        writer.writeheader()
        writer.writerows(sorted(rows + new, key=lambda r: (r["set"], r["condition"], r["id"])))
    print(f"{HEARD}: {len(rows) + len(new)} rows ({len(new)} from {len(replaced)} sets)")


if __name__ == "__main__":
    main()
