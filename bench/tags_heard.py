"""Writes ``gateway/intel/data/tag-examples-heard.tsv``: the built-in examples as the recognizer
hears them, so the head also learns tiny.en's usual mishearings of what people say.

Each example sentence of ``tag-examples.tsv`` is spoken by espeak-ng (the voices of
``bench/tags.py`` in turn) and run once through the real pipeline (VAD, whisper.cpp tiny.en
q8_0, guards, redaction), clean and (unless ``--clean-only``) with pink noise at
``--snr-db``; what the pipeline hears is kept, with the example's tag and the sentence it came
from (``source``), when it differs from the sentence in more than case and punctuation.
Rerun it after changing the examples:

    PYTHONPATH=$PWD .venv/bin/python bench/tags_heard.py --work /tmp/heard
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from pathlib import Path

from tags import heard, load_pipeline

from gateway.intel.semantic import EXAMPLES, HEARD_EXAMPLES, Example, read_examples

DATA = Path(__file__).parents[1] / "gateway/intel/data"
REP_TAGS = ("consent.disclosure", "next_step", "financing")


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\[\]' ]+", " ", text.lower()).split())


def heard_examples(pipeline: object, examples: list[Example], work: Path,
                   snr_db: float | None, noisy: bool) -> list[Example]:
    """What the pipeline hears of each example, clean (then noisy), without repeats."""
    rows = [{"text": e.text, "speaker": "rep" if e.tag in REP_TAGS else "customer"}
            for e in examples]
    found: list[Example] = []
    seen = {normalised(e.text) for e in examples}
    for name, condition in (("clean", None), ("noisy", snr_db))[: 2 if noisy else 1]:
        transcripts = heard(pipeline, rows, work, condition, work / f"heard-{name}.json")
        for example, parts in zip(examples, transcripts, strict=True):
            text = " ".join(s.text.strip() for s in parts).strip()
            if text and normalised(text) not in seen:
                seen.add(normalised(text))
                found.append(Example(example.tag, text, example.text))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--snr-db", type=float, default=10.0, help="noise level (default 10 dB)")
    parser.add_argument("--threads", type=int, default=2, help="whisper.cpp threads")
    parser.add_argument("--clean-only", action="store_true", help="without the noisy pass")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-tags-heard-"))
    pipeline = load_pipeline(work, args.threads)
    examples = list(read_examples((DATA / EXAMPLES).read_text("utf-8")))
    found = heard_examples(pipeline, examples, work, args.snr_db, not args.clean_only)
    with (DATA / HEARD_EXAMPLES).open("w", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["tag", "text", "source"])
        writer.writerows([e.tag, e.text, e.source] for e in found)
    print(f"{len(found)} heard sentences from {len(examples)} examples -> "
          f"{DATA / HEARD_EXAMPLES}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
