"""Benchmark: identifiers that survive redaction of what the speech recognizer really wrote.

Reads tests/data/pii-asr.tsv: phone numbers and e-mail addresses spoken with espeak-ng (clean
and in noise), sentences with ordinary numbers and no identifier, and what tiny.en wrote for
each. How the file was made: each sentence (``said``) spoken by espeak-ng (voice en-us for
``clean-us`` and ``pink0-us``, en-us+f3 for ``pink5-f3``, en-gb+m3 for ``clean-gb`` and
``brown0-gb``), resampled to 16 kHz, padded with 0.5 s of silence, mixed with sox pink or brown
noise at 5 or 0 dB below the speech (the number in the condition's name), and transcribed by
SpeechPipeline.transcribe with whisper.cpp tiny.en q8_0 (VAD, windows and guards as in the
product; empty transcripts left out). ``identifier`` is the phone number or address as said;
``expected`` what a careful reader of ``heard`` alone would hide. The held-out sentences were
written with the development ones, before any tuning; the redactor was tuned on ``dev`` only.
tests/data/pii-asr-synth*.tsv (split ``synth``, made the same way by bench/pii_synth.py from
templated sentences, one file a batch) is development data too.

Per split (``dev`` and ``synth``: tuned on; ``heldout``: only measured) it prints

- leaks: rows with a phone number or e-mail address where a piece of it survives redaction (a
  number whose digits occur in the phone number; a name or domain word of the address, also
  glued into a longer word), out of the rows whose transcript holds such a piece at all;
- false redactions: rows without an identifier (transcribed, and as typed) where anything was
  redacted;
- rows redacted exactly as the file expects (what a careful reader of the transcript alone
  would hide; synthesized rows have no such reading), and the leaks per recording condition;

then the false redactions in ordinary typed sales talk (the sentences of the tag and speech
test files not tagged pii.*) and the time to redact one segment.

    .venv/bin/python bench/pii.py [--show] [--split dev|synth|heldout] [--batch N]

``--batch N`` (repeatable) takes the ``synth`` rows of those batches only: a new batch is
scored alone before anything is tuned on it.

The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.intel.redactor import redact

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "pii-asr.tsv"
# Made by bench/pii_synth.py, one file a batch: pii-asr-synth.tsv, pii-asr-synth2.tsv, ...
SYNTH = tuple(sorted((ROOT / "tests" / "data").glob("pii-asr-synth*.tsv")))
# Ordinary sales talk (typed) that holds no identifier: rows tagged pii.* are left out.
ORDINARY = (
    ROOT.parent / "shared" / "data" / "dev-utterances.tsv",
    ROOT / "tests" / "data" / "tag-paraphrases.tsv",
    ROOT / "tests" / "data" / "heldout-utterances.tsv",
    ROOT / "tests" / "data" / "heldout-speakers.tsv",
    ROOT / "tests" / "data" / "asr-heldout.tsv",
)
SPLITS = ("dev", "synth", "heldout")
NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "twenty": "2", "thirty": "3",
    "forty": "4", "fifty": "5", "sixty": "6", "seventy": "7", "eighty": "8", "ninety": "9",
}  # fmt: skip
PLACEHOLDER = re.compile(r"\[[A-Z]+\]")
READ_OUT = {"double", "triple", "oh"}
NOT_IDENTIFYING = {"at", "dot", "underscore", "dash", "com", "net", "org", "io", "me", "us"}


@dataclass(frozen=True)
class Row:
    id: str
    split: str
    kind: str  # phone, email or none
    condition: str
    said: str
    identifier: str
    heard: str
    expected: str


def synth_file(batch: int) -> Path:
    """The file of one synthesized batch: pii-asr-synth.tsv, pii-asr-synth2.tsv, ..."""
    return ROOT / "tests" / "data" / f"pii-asr-synth{batch if batch > 1 else ''}.tsv"


def load(paths: tuple[Path, ...] = (DATA, *SYNTH)) -> list[Row]:
    rows = []
    for path in paths:
        with path.open(newline="") as handle:
            rows += [
                Row(r["id"], r["split"], r["kind"], r["condition"], r["said"], r["identifier"],
                    r["heard"], r["expected"])
                for r in csv.DictReader(handle, delimiter="\t")
            ]
    return rows


def ordinary_talk(paths: tuple[Path, ...] = ORDINARY) -> list[str]:
    """Every sentence of the typed sales-talk files that is not tagged as holding PII."""
    found: list[str] = []
    for path in paths:
        with path.open(newline="") as handle:
            found += [r["text"] for r in csv.DictReader(handle, delimiter="\t")
                      if "pii." not in r.get("tags", "")]
    return found


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def spoken_digits(text: str) -> str:
    """The digits a phrase holds, written or spoken ("four one five, 772" -> "415772")."""
    return "".join(w if w.isdigit() else NUMBER_WORDS.get(w, "") for w in words(text))


def pieces(identifier: str, kind: str) -> list[str]:
    """What of the identifier (as spoken) must not survive: its digits, or its words."""
    if kind == "phone":
        return [spoken_digits(identifier)]
    named = [w for w in words(identifier) if len(w) >= 3 and w not in NOT_IDENTIFYING]
    number = spoken_digits(identifier)
    return [w for w in named if w not in NUMBER_WORDS] + ([number] if number else [])


def own_numbers(said: str) -> set[tuple[str, str]]:
    """The numbers the sentence itself holds beside its phone number, each with the word
    before it: ("best", "1") for "..., that's the best one." The phone number is the longest run
    of digits and digit words (with "double", "triple", "oh") in ``said``."""
    said_words = words(said)
    spoken = [w.isdigit() or w in NUMBER_WORDS or w in READ_OUT for w in said_words]
    runs: list[tuple[int, int]] = []
    for index, inside in enumerate(spoken):
        if inside and (not runs or runs[-1][1] != index):
            runs.append((index, index + 1))
        elif inside:
            runs[-1] = (runs[-1][0], index + 1)
    phone = max(runs, key=lambda run: run[1] - run[0], default=(0, 0))
    return {
        (said_words[i - 1] if i else "", digits)
        for i, w in enumerate(said_words)
        if not phone[0] <= i < phone[1] and (digits := spoken_digits(w))
    }


def surviving(text: str, kind: str, secret: list[str], said: str = "") -> list[str]:
    """The pieces of ``secret`` still readable in ``text``. A number of the sentence's own
    that survives with the word said before it ("that's the best one") is not a piece of the
    phone number; any other number whose digits occur in it is."""
    if kind == "phone":
        own = own_numbers(said)
        tokens = re.findall(r"[0-9]+|[a-z]+", text.lower())  # "1th": "1", "th"
        found = [(before, spoken_digits(w)) for before, w in
                 zip(["", *tokens], tokens, strict=False)]
        return [n for before, n in found
                if n and n in secret[0] and (before, n) not in own]
    text = PLACEHOLDER.sub(" ", text)
    return [w for w in words(text) for s in secret if s in w]


def score(rows: list[Row], show: bool) -> dict[str, int]:
    """Leaks, false redactions and rows as expected for one split's rows."""
    counts = {"rows": len(rows), "exact": 0, "expected_rows": 0, "phone_rows": 0,
              "phone_heard": 0, "phone_leaks": 0, "email_rows": 0, "email_heard": 0,
              "email_leaks": 0, "clean_rows": 0, "clean_redacted": 0, "typed_rows": 0,
              "typed_redacted": 0}
    by_condition: dict[str, list[int]] = {}  # condition: [rows heard, rows leaking]
    typed: set[str] = set()
    for row in rows:
        redacted = redact(row.heard).text
        if row.expected:  # the synthesized rows have none
            counts["expected_rows"] += 1
            counts["exact"] += redacted == row.expected
        if row.kind == "none":
            counts["clean_rows"] += 1
            counts["clean_redacted"] += redacted != row.heard
            if row.said not in typed:
                typed.add(row.said)
                counts["typed_rows"] += 1
                counts["typed_redacted"] += bool(redact(row.said).findings)
            if show and redacted != row.heard:
                print(f"  false {row.id} {row.condition}: {row.heard!r} -> {redacted!r}")
            continue
        secret = pieces(row.identifier, row.kind)
        counts[f"{row.kind}_rows"] += 1
        if surviving(row.heard, row.kind, secret, row.said):
            counts[f"{row.kind}_heard"] += 1
            left = surviving(redacted, row.kind, secret, row.said)
            counts[f"{row.kind}_leaks"] += bool(left)
            tally = by_condition.setdefault(row.condition, [0, 0])
            tally[0] += 1
            tally[1] += bool(left)
            if show and left:
                print(f"  leak {row.id} {row.condition}: {row.heard!r} -> {redacted!r}")
    print(
        f"leaks phone {counts['phone_leaks']}/{counts['phone_heard']} "
        f"(of {counts['phone_rows']} rows), e-mail {counts['email_leaks']}/"
        f"{counts['email_heard']} (of {counts['email_rows']}); false redactions "
        f"{counts['clean_redacted']}/{counts['clean_rows']} transcribed, "
        f"{counts['typed_redacted']}/{counts['typed_rows']} typed; as expected "
        f"{counts['exact']}/{counts['expected_rows']}"
    )
    print("  leaks by condition: " + ", ".join(
        f"{name} {leaks}/{heard}" for name, (heard, leaks) in sorted(by_condition.items())))
    counts.update({f"leaks_{name}": leaks for name, (_, leaks) in by_condition.items()})
    return counts


def ordinary(show: bool) -> dict[str, int]:
    """False redactions in typed ordinary sales talk (prices, dates, quantities, times)."""
    texts = ordinary_talk()
    redacted = [t for t in texts if redact(t).findings]
    for text in redacted if show else ():
        print(f"  false (typed talk): {text!r} -> {redact(text).text!r}")
    print(f"ordinary talk: false redactions {len(redacted)}/{len(texts)} typed sentences")
    return {"rows": len(texts), "redacted": len(redacted)}


def time_per_segment(texts: list[str], rounds: int = 5) -> float:
    """Microseconds to redact one transcript segment (best of ``rounds``)."""
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for text in texts:
            redact(text)
        best = min(best, (time.perf_counter() - started) / len(texts))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show", action="store_true", help="print every leaking row")
    parser.add_argument("--split", choices=SPLITS, action="append",
                        help="only this split (repeatable; default: all)")
    parser.add_argument("--batch", type=int, action="append",
                        help="synthesized rows of this batch only (repeatable; default: all)")
    args = parser.parse_args()
    figures: dict[str, dict[str, int] | float] = {}
    rows = load((DATA, *map(synth_file, args.batch)) if args.batch else (DATA, *SYNTH))
    for split in args.split or SPLITS:
        print(f"{split}: ", end="")
        figures[split] = score([r for r in rows if r.split == split], args.show)
    figures["ordinary"] = ordinary(args.show)
    micros = time_per_segment([r.heard for r in rows] + ordinary_talk())
    print(f"time per segment: {micros:.0f} us")
    figures["us_per_segment"] = round(micros, 1)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
