"""Make more development rows for bench/pii.py: synthesized phone numbers, e-mail addresses
and ordinary sales sentences with numbers, spoken and transcribed as in the product.

Writes ``tests/data/pii-asr-synth.tsv`` (``--batch 2``: ``pii-asr-synth2.tsv``, other
sentences and noise; split ``synth``: development data, tuned on like ``dev``). Sentences come
from templates below filled in from a seeded random generator, so a run writes the same
sentences; each is spoken by espeak-ng, resampled to 16 kHz (sox ``-R``),
padded with 0.5 s of silence, mixed with sox pink or brown noise at 5 or 0 dB below the speech
(the number in the condition's name, as in ``tests/data/pii-asr.tsv``) and transcribed by
SpeechPipeline.transcribe with whisper.cpp tiny.en q8_0 (empty transcripts left out). Columns
as in pii-asr.tsv; ``expected`` is left empty (nobody read these transcripts row by row).

    .venv/bin/python bench/pii_synth.py [--work DIR] [--batch N] [--phones N] [--emails N]
        [--plain N]
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from gateway.config import Config
from gateway.speech import catalogue
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio
from gateway.speech.factory import build_pipeline

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
SEED = 20261204
COLUMNS = ("id", "split", "kind", "condition", "said", "identifier", "heard", "expected")
# condition: (voice, noise colour or None, noise level below the speech in dB)
CONDITIONS = {
    "clean-us": ("en-us", None, 0), "pink5-f3": ("en-us+f3", "pinknoise", 5),
    "pink0-us": ("en-us", "pinknoise", 0), "clean-gb": ("en-gb+m3", None, 0),
    "brown0-gb": ("en-gb+m3", "brownnoise", 0),
}  # fmt: skip
IDENTIFIER_CONDITIONS = ("clean-us", "pink5-f3", "pink0-us", "brown0-gb")
PLAIN_CONDITIONS = ("clean-us", "pink5-f3", "pink0-us")

DIGIT_WORDS = "zero one two three four five six seven eight nine".split()
PHONE_TEMPLATES = (
    "My number is {p}.", "You can call me at {p}.", "My cell is {p}.", "Text me at {p}.",
    "The best number to reach me is {p}.", "Reach me at {p} any time.", "It's {p}.",
    "My mobile is {p}, that's the best one.", "Sure, write this down, {p}.", "Try me on {p}.",
    "Our office line is {p}.", "Call my wife on {p} if I don't pick up.", "{p}, that's my cell.",
    "Give me a ring at {p}.", "My direct line is {p}.", "Okay, it's {p}, call after lunch.",
    "You can get me on {p}.", "Home phone is {p}.", "Just call {p} and ask for me.",
    "Let me give you my number, {p}.",
)  # fmt: skip
FIRST = "olivia ethan grace lucas mia noah chloe owen ava liam zoe ryan ella jack ruby max".split()
LAST = "turner baker reyes nguyen patel murphy foster hayes brooks price ward cole stone".split()
DOMAINS = ("gmail dot com", "yahoo dot com", "outlook dot com", "hotmail dot com",
           "icloud dot com", "aol dot com", "sunrise energy dot com", "peak roofing dot net",
           "greenfield dot org", "acme homes dot co")  # fmt: skip
EMAIL_TEMPLATES = (
    "My email is {e}.", "Send it to {e}.", "You can email me at {e}.", "It's {e}.",
    "Email the quote to {e}, please.", "My work address is {e}.", "Use {e} for the contract.",
    "Sure, {e}.", "Write to {e} and I'll forward it.", "Please copy {e} on that.",
)  # fmt: skip
PLAIN_TEMPLATES = (
    "The system costs {money} after the rebate.", "We'd need {n} panels on the south roof.",
    "Our electric bill was {money} last month.", "The house was built in {year}.",
    "Can you come by at {hour} on {day}?", "The inverter is rated at {watts} watts.",
    "That comes to about {big} after the credit.", "The loan is {n} years at {rate} percent.",
    "We use about {kwh} kilowatt hours a month.", "The install takes {small} days, maybe {n}.",
    "I'd like the model {model} in black.", "Let's meet on {month} {date} at {hour}.",
    "We have {small} kids, {small} cars and {n} acres.", "The roof is {n} years old.",
    "I called {n} companies last year.", "Each battery holds {small}.{small} kilowatt hours.",
    "The warranty is {n} years on parts.",
    "Our crew of {small} can finish by the {date}th.", "That's {n} percent off the list price.",
    "The quote number is {quote}.", "It was {money} in {year} and {money} in {year}.",
    "My number one concern is the price.", "Give me a call after {small}, and we can talk.",
    "We paid {big} for the roof in {year}.", "Order {n} units of the {model} for {month}.",
)  # fmt: skip
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday".split()
MONTHS = "January March April June July September October November".split()


def spoken_phone(rng: random.Random) -> tuple[str, str]:
    """A ten-digit US phone number as read out (words, sometimes "oh", "double" or written
    groups) and the same as typed digits."""
    number = [str(rng.randint(2, 9))] + [str(rng.randint(0, 9)) for _ in range(9)]
    typed = "".join(number)
    if rng.random() < 0.15:
        return f"{typed[:3]} {typed[3:6]} {typed[6:]}", typed
    groups, words = (number[:3], number[3:6], number[6:]), []
    for group in groups:
        said: list[str] = []
        i = 0
        while i < len(group):
            word = "oh" if group[i] == "0" and rng.random() < 0.4 else DIGIT_WORDS[int(group[i])]
            if i + 1 < len(group) and group[i + 1] == group[i] and rng.random() < 0.3:
                said.append(f"double {word}")
                i += 2
                continue
            said.append(word)
            i += 1
        words.append(" ".join(said))
    return ", ".join(words), typed


def spoken_email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice((f"{first} dot {last}", f"{first} {last}", f"{first[0]} {last}",
                        f"{first} underscore {last}", f"{first}", f"{last} {rng.randint(1, 99)}"))
    return f"{local} at {rng.choice(DOMAINS)}"


_FILLS: dict[str, Callable[[random.Random], str]] = {
    "money": lambda r: f"${r.randint(2, 60)},{r.randint(0, 999):03d}",
    "n": lambda r: str(r.randint(2, 40)),
    "year": lambda r: str(r.randint(1975, 2029)),
    "hour": lambda r: f"{r.randint(1, 11)} {r.choice(('am', 'pm'))}",
    "day": lambda r: r.choice(DAYS),
    "watts": lambda r: f"{r.randint(3, 11)},{r.choice(('000', '600', '400'))}",
    "big": lambda r: f"{r.randint(9, 48)},{r.randint(0, 9)}00",
    "rate": lambda r: f"{r.randint(3, 8)}.{r.randint(1, 99)}",
    "kwh": lambda r: str(r.randint(4, 19) * 50),
    "small": lambda r: str(r.randint(2, 9)),
    "model": lambda r: f"{r.choice('XSQM')}{r.randint(100, 990)}",
    "month": lambda r: r.choice(MONTHS),
    "date": lambda r: str(r.randint(4, 28)),
    "quote": lambda r: f"Q{r.randint(10, 99)}-{r.randint(100, 999)}",
}


def plain_sentence(rng: random.Random) -> str:
    """A sales sentence with ordinary numbers, each placeholder drawn afresh."""
    return re.sub(r"\{(\w+)\}", lambda m: _FILLS[m.group(1)](rng), rng.choice(PLAIN_TEMPLATES))


def output(batch: int) -> Path:
    """The file of one batch: pii-asr-synth.tsv, pii-asr-synth2.tsv, ..."""
    return DATA / f"pii-asr-synth{batch if batch > 1 else ''}.tsv"


def sentences(phones: int, emails: int, plain: int, batch: int = 1
              ) -> list[tuple[str, str, str, str]]:
    """(id, kind, said, identifier) for every sentence of a batch, the same every run."""
    rng = random.Random(SEED + batch - 1)
    tag = f"{batch}-" if batch > 1 else ""
    rows = []
    for n in range(phones):
        said, typed = spoken_phone(rng)
        template = rng.choice(PHONE_TEMPLATES)
        rows.append((f"sp{tag}{n + 1:03d}", "phone", template.format(p=said), typed))
    for n in range(emails):
        address = spoken_email(rng)
        rows.append((f"se{tag}{n + 1:03d}", "email",
                     rng.choice(EMAIL_TEMPLATES).format(e=address), address))
    rows += [(f"sn{tag}{n + 1:03d}", "none", plain_sentence(rng), "") for n in range(plain)]
    return rows


def speak(text: str, condition: str, work: Path, seed: int) -> Audio:
    voice, colour, below_db = CONDITIONS[condition]
    raw, wav, noise = work / "raw.wav", work / "utt.wav", work / "noise.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)],
                   check=True)
    speech = load_audio(wav).samples
    pad = np.zeros(SAMPLE_RATE // 2, np.float32)
    clip = np.concatenate([pad, speech, pad])
    if colour is not None:
        seconds = len(clip) / SAMPLE_RATE + 0.1
        subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(noise),
                        "synth", f"{seconds:.2f}", colour, "vol", "0.5"], check=True)
        hiss = np.roll(load_audio(noise).samples, seed * 997)[: len(clip)]
        gain = np.sqrt(float(np.mean(speech**2)) / max(float(np.mean(hiss**2)), 1e-12))
        clip = clip + hiss * gain * 10 ** (-below_db / 20)
    return Audio(np.clip(clip, -1.0, 1.0).astype(np.float32), SAMPLE_RATE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--phones", type=int, default=60)
    parser.add_argument("--emails", type=int, default=30)
    parser.add_argument("--plain", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1, help="whisper.cpp threads")
    parser.add_argument("--batch", type=int, default=1,
                        help="batch number: its own sentences, noise and file (default 1)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="pii-synth-"))
    work.mkdir(parents=True, exist_ok=True)
    catalogue.install(work / "models", "tiny.en", ("q8_0",))
    config = Config()
    config.paths.data_dir = str(work)
    config.speech.model = "tiny.en"
    config.speech.threads = args.threads
    config.tagger.engine = "rules"
    pipeline = build_pipeline(config)
    with output(args.batch).open("w", newline="") as handle:
        out = csv.writer(handle, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS)
        for index, (row_id, kind, said, identifier) in enumerate(
            sentences(args.phones, args.emails, args.plain, args.batch)
        ):
            for condition in IDENTIFIER_CONDITIONS if kind != "none" else PLAIN_CONDITIONS:
                heard = " ".join(s.text.strip() for s in pipeline.transcribe(
                    speak(said, condition, work, index + 1000 * (args.batch - 1)))).strip()
                if heard:
                    out.writerow((row_id, "synth", kind, condition, said, identifier, heard, ""))
            handle.flush()
            print(f"{row_id} done", flush=True)


if __name__ == "__main__":
    main()
