"""Writes ``gateway/intel/data/tag-examples-heard.tsv``: example sentences as the recognizer
hears them, so the head also learns tiny.en's usual mishearings of what people say.

Sentences are spoken by espeak-ng and run once through the real pipeline (VAD, whisper.cpp
tiny.en q8_0, guards, redaction), clean and (unless ``--clean-only``) with brown noise at
``--snr-db``. The voices (:data:`HEARD_VOICES`) and the noise are others than those
``bench/tags.py`` measures with (its four voices, pink noise), so what the head learns here is
the recognizer's habits, not the benchmark's own voices; what the pipeline hears is kept, with the
sentence's tag and the sentence itself (``source``), when it differs from the sentence in more
than case and punctuation. ``--from examples`` speaks every built-in example (2318 sentences,
clean and noisy; 2552 took 30 minutes on a quiet 2-core box; run nothing else that uses whisper.cpp
meanwhile, as two such processes on two cores slow each other some fifteenfold); ``--from
tune`` the tuning half of the paraphrase set (whose rows are examples too). Rerun it after
changing the examples:

    PYTHONPATH=$PWD .venv/bin/python bench/tags_heard.py --work /tmp/heard

or, after adding examples, hear only the new ones (1859 took 40 minutes beside other work):

    PYTHONPATH=$PWD .venv/bin/python bench/tags_heard.py --work /tmp/heard --append --unheard
"""

from __future__ import annotations

import argparse
import csv
import re
import tempfile
from pathlib import Path

from tags import VOICES, gold, heard, load_pipeline, split_rows

from gateway.intel.semantic import (
    EXAMPLES,
    HEARD_EXAMPLES,
    NONE,
    Example,
    builtin_examples,
    read_examples,
)

DATA = Path(__file__).parents[1] / "gateway/intel/data"
REP_TAGS = ("consent.disclosure", "next_step", "financing")
HEARD_VOICES = ("en-us+m1", "en-us+f2", "en-gb-x-rp", "en-us+m4")
NOISE = "brown"


def normalised(text: str) -> str:
    return " ".join(re.sub(r"[^\w\[\]' ]+", " ", text.lower()).split())


def spoken(source: str) -> list[tuple[Example, str]]:
    """The sentences to speak, each with its example (tag and text) and its speaker."""
    if source == "tune":
        found = []
        for row in split_rows("tune"):
            tags = [t for t in gold(row) if not t.startswith("pii.")] or [NONE]
            if len(tags) == 1:
                found.append((Example(tags[0], row["text"]), row["speaker"]))
        return found
    return [(e, "rep" if e.tag in REP_TAGS else "customer")
            for e in read_examples((DATA / EXAMPLES).read_text("utf-8"))]


def heard_examples(pipeline: object, source: str, work: Path, snr_db: float | None,
                   noisy: bool, voices: tuple[str, ...] = HEARD_VOICES, noise: str = NOISE,
                   kept: tuple[Example, ...] = (), unheard: bool = False) -> list[Example]:
    """What the pipeline hears of each sentence, clean (then noisy), without repeats (of a
    written example or of the ``kept`` heard ones); with ``unheard``, only of the sentences
    no kept heard example comes from."""
    sources = {e.source for e in kept}
    sentences = [(e, speaker) for e, speaker in spoken(source)
                 if not unheard or e.text not in sources]
    rows = [{"text": e.text, "speaker": speaker} for e, speaker in sentences]
    found: list[Example] = []
    seen = {normalised(e.text) for e in builtin_examples() if not e.source}
    seen |= {normalised(e.text) for e in kept}
    for name, condition in (("clean", None), ("noisy", snr_db))[: 2 if noisy else 1]:
        transcripts = heard(pipeline, rows, work, condition, work / f"{source}-heard-{name}.json",
                            voices, noise)
        for (example, _), parts in zip(sentences, transcripts, strict=True):
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
    parser.add_argument("--from", dest="source", choices=("examples", "tune"), default="examples",
                        help="speak the built-in examples or the tuning half's sentences")
    parser.add_argument("--voices", default=",".join(HEARD_VOICES),
                        help="espeak-ng voices, by turns (default: %(default)s; not the "
                             "benchmark's own)")
    parser.add_argument("--noise", choices=("brown", "white"), default=NOISE,
                        help="the noise's colour (not the benchmark's pink)")
    parser.add_argument("--append", action="store_true",
                        help="add to the heard examples in the file instead of replacing them")
    parser.add_argument("--unheard", action="store_true",
                        help="with --append, speak only the sentences no kept heard example "
                             "comes from (the examples added since the file was made)")
    args = parser.parse_args(argv)
    if args.unheard and not args.append:
        parser.error("--unheard adds to the file: give --append too")
    voices = tuple(args.voices.split(","))
    if set(voices) & set(VOICES):
        parser.error(f"the benchmark speaks with {', '.join(VOICES)}; choose other voices")
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-tags-heard-"))
    path = DATA / HEARD_EXAMPLES
    kept = read_examples(path.read_text("utf-8")) if args.append and path.is_file() else ()
    pipeline = load_pipeline(work, args.threads)
    found = heard_examples(pipeline, args.source, work, args.snr_db, not args.clean_only,
                           voices, args.noise, kept, args.unheard)
    with path.open("w", newline="") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(["tag", "text", "source"])
        writer.writerows([e.tag, e.text, e.source] for e in (*kept, *found))
    print(f"{len(found)} heard sentences ({args.source}) -> {path} ({len(kept)} kept)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
