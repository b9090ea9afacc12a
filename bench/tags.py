"""Tag quality on the held-out paraphrases: typed, through clean speech, through noisy speech.

The test half of ``tests/data/tag-paraphrases.tsv`` (written from the taxonomy's definitions
before any tuning; no rule or example was taken from it; ``--split tune`` takes the tuning half
instead, whose rows are among the examples: see ``bench/tags_cv.py`` for honest figures on it;
``--file tests/data/tag-validation.tsv --split all`` another set of the same columns) is tagged

- (a) as typed text,
- (b) through speech: espeak-ng (four voices in turn) -> the real pipeline (VAD, whisper.cpp
  tiny.en q8_0 with the product's default prompt, guards, redaction, tagging), each sentence
  as its speaker's channel so tags are scoped as on a two-channel badge,
- (c) the same with pink noise mixed in at ``--snr-db`` (sox),

by the semantic tagger and, on the same text, by the keyword rules alone (the baseline). Only
aggregate figures are printed (never a row): per tag precision/recall/F1 and micro F1, all
tags and without pii.*, and the time per segment with the model loaded. Run
``salestag-gateway models install tiny.en`` and ``models install minilm`` first (or let this
script install both into its work folder).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

# numpy's OpenBLAS on the calling thread, as every gateway program runs (gateway/entry.py);
# OpenBLAS reads it when numpy loads, so it is set before the import.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from gateway.config import Config
from gateway.entry import pin_allocator
from gateway.intel import Segment, SemanticTagger, annotate
from gateway.intel.redactor import PLACEHOLDERS
from gateway.semantic import catalogue as text_catalogue
from gateway.speech import catalogue
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio
from gateway.speech.factory import build_pipeline

DATA = Path(__file__).parents[1] / "tests/data/tag-paraphrases.tsv"
VOICES = ("en-us", "en-us+f3", "en-gb", "en-us+m3")
SPACING_S = 10.0


def split_rows(split: str = "test", path: Path = DATA) -> list[dict[str, str]]:
    """The rows of one half of a paraphrase set (``test`` or ``tune``; ``all``: every row)."""
    with path.open(newline="") as handle:
        return [r for r in csv.DictReader(handle, delimiter="\t")
                if split in ("all", r["split"])]


def gold(row: dict[str, str]) -> set[str]:
    return {t for t in row["tags"].split(";") if t}


# --- speech ----------------------------------------------------------------------------------


def speak(text: str, voice: str, work: Path) -> np.ndarray:
    raw, wav = work / "raw.wav", work / "utt.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)],
                   check=True)  # -R: the same dither every run, so the same words
    return load_audio(wav).samples


def sox_noise(seconds: float, work: Path, seed: int, colour: str = "pink") -> np.ndarray:
    """``seconds`` of sox's noise of that colour (pink, brown, white), shifted by ``seed``."""
    path = work / "noise.wav"
    subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth",
                    f"{seconds:.2f}", f"{colour}noise", "vol", "0.5"], check=True)
    noise = load_audio(path).samples
    return np.roll(noise, seed * 997)


def clips(rows: list[dict[str, str]], work: Path, snr_db: float | None,
          voices: tuple[str, ...] = VOICES, noise: str = "pink") -> list[np.ndarray]:
    """Each row spoken (``voices`` in turn), padded with 0.3 s, optionally with ``noise`` (a
    sox noise colour) at ``snr_db``."""
    rng = np.random.default_rng(11)
    found = []
    for index, row in enumerate(rows):
        samples = speak(row["text"], voices[index % len(voices)], work)
        pad = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
        clip = np.concatenate([pad, samples, pad])
        clip += rng.normal(0.0, 0.002, len(clip)).astype(np.float32)
        if snr_db is not None:
            hiss = sox_noise(len(clip) / SAMPLE_RATE + 0.1, work, index, noise)[: len(clip)]
            speech_power = float(np.mean(samples**2))
            gain = np.sqrt(speech_power / max(float(np.mean(hiss**2)), 1e-12))
            clip = clip + hiss * gain * 10 ** (-snr_db / 20)
        found.append(np.clip(clip, -1.0, 1.0).astype(np.float32))
    return found


def transcribe(pipeline: Any, rows: list[dict[str, str]], audio: list[np.ndarray]) -> list[
    list[Segment]
]:
    """Each clip through the whole pipeline as its speaker's channel: redacted segments."""
    found = []
    for row, samples in zip(rows, audio, strict=True):
        result = pipeline.process_channels([Audio(samples, SAMPLE_RATE)], [row["speaker"]])
        found.append(list(result.segments))
    return found


def heard(pipeline: Any, rows: list[dict[str, str]], work: Path, snr_db: float | None,
          cache: Path | None = None, voices: tuple[str, ...] = VOICES, noise: str = "pink",
          ) -> list[list[Segment]]:
    """What the pipeline hears of each row (spoken as in :func:`clips`), kept in ``cache`` (a
    JSON file, reused when it holds the same texts) so a rerun does not transcribe again."""
    texts = [r["text"] for r in rows]
    if cache is not None and cache.exists():
        saved = json.loads(cache.read_text())
        if saved["texts"] == texts:
            return [[Segment(*s) for s in parts] for parts in saved["segments"]]
    found = transcribe(pipeline, rows, clips(rows, work, snr_db, voices, noise))
    if cache is not None:
        cache.write_text(json.dumps({"texts": texts, "segments": [
            [[s.start, s.end, s.text, s.speaker] for s in parts] for parts in found]}))
    return found


# --- scoring ---------------------------------------------------------------------------------


def tag_rows(transcripts: list[list[Segment]], tagger: SemanticTagger | None) -> list[set[str]]:
    """The tags of each row's segments, tagged in one call as a conversation would be."""
    segments, owner = [], []
    for index, parts in enumerate(transcripts):
        for n, s in enumerate(parts):
            start = index * SPACING_S + n * 2.0
            segments.append(Segment(start, start + 1.0, s.text, s.speaker))
            owner.append(index)
    found: list[set[str]] = [set() for _ in transcripts]
    for tag in annotate(segments, tagger=tagger).tags:
        found[int(tag.start // SPACING_S)].add(tag.tag)
    for segment, index in zip(segments, owner, strict=True):  # redacted by the pipeline already
        found[index] |= {f"pii.{kind}" for kind, mark in PLACEHOLDERS.items()
                         if mark in segment.text}
    return found


def scores(rows: list[dict[str, str]], found: list[set[str]]) -> dict[str, Any]:
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for row, tags in zip(rows, found, strict=True):
        want = gold(row)
        tp.update(tags & want)
        fp.update(tags - want)
        fn.update(want - tags)
    per_tag = {}
    for tag in sorted(set(tp) | set(fp) | set(fn)):
        per_tag[tag] = prf(tp[tag], fp[tag], fn[tag])
    def micro(keep: Any) -> dict[str, float]:
        return prf(sum(v for t, v in tp.items() if keep(t)), sum(v for t, v in fp.items()
                   if keep(t)), sum(v for t, v in fn.items() if keep(t)))
    return {"per_tag": per_tag, "micro": micro(lambda t: True),
            "micro_no_pii": micro(lambda t: not t.startswith("pii."))}


def prf(tp: int, fp: int, fn: int) -> dict[str, Any]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"p": round(precision, 3), "r": round(recall, 3), "f1": round(f1, 3),
            "tp": tp, "fp": fp, "fn": fn}


def report(condition: str, tagger: str, result: dict[str, Any]) -> None:
    m, n = result["micro"], result["micro_no_pii"]
    recalls = [v["r"] for t, v in result["per_tag"].items() if v["tp"] + v["fn"]]
    print(f"{condition:6} {tagger:8} micro P={m['p']:.3f} R={m['r']:.3f} F1={m['f1']:.3f}  "
          f"without pii F1={n['f1']:.3f}  lowest tag recall {min(recalls):.3f}")
    for tag, v in result["per_tag"].items():
        print(f"  {condition:6} {tagger:8} {tag:22} P={v['p']:.3f} R={v['r']:.3f} "
              f"F1={v['f1']:.3f} ({v['tp']}/{v['fp']}/{v['fn']})")


# --- timing ----------------------------------------------------------------------------------


def time_per_segment(tagger: SemanticTagger, texts: list[str], repeat: int) -> dict[str, float]:
    """ms per segment tagged in one call per conversation (batched; also its CPU time: the
    embedder runs on one thread) and one at a time; and, as baselines measured in the same
    run, the keyword rules alone and the text model's own run of each text alone."""
    segments = [Segment(i * SPACING_S, i * SPACING_S + 1, t, "customer")
                for i, t in enumerate(texts)]
    annotate(segments[:4], tagger=tagger)  # warm up
    batched, single, cpu, model = [], [], [], []
    for round_ in range(repeat):
        unique = [Segment(s.start, s.end, f"{s.text} {round_}", s.speaker) for s in segments]
        started, cpu_started = time.perf_counter(), time.process_time()
        annotate(unique, tagger=tagger)
        batched.append((time.perf_counter() - started) / len(unique))
        cpu.append((time.process_time() - cpu_started) / len(unique))
        started = time.perf_counter()
        for segment in unique[:40]:
            annotate([segment], tagger=tagger)
        single.append((time.perf_counter() - started) / 40)
        started = time.perf_counter()
        tagger.embed([f"{text} {round_} alone" for text in texts])
        model.append((time.perf_counter() - started) / len(texts))
    rules = time.perf_counter()
    annotate(segments, tagger=None)
    rules_s = (time.perf_counter() - rules) / len(segments)
    return {"batched_ms": round(min(batched) * 1000, 2), "single_ms": round(min(single) * 1000, 2),
            "batched_cpu_ms": round(min(cpu) * 1000, 2), "rules_ms": round(rules_s * 1000, 3),
            "model_ms": round(min(model) * 1000, 2)}


def load_pipeline(work: Path, threads: int) -> Any:
    """The product's pipeline (tiny.en q8_0, the semantic tagger) on models installed in
    ``work``."""
    work.mkdir(parents=True, exist_ok=True)
    models = work / "models"
    catalogue.install(models, "tiny.en", ("q8_0",))
    text_catalogue.install(models)
    config = Config()
    config.paths.data_dir = str(work)
    config.speech.threads = threads
    return build_pipeline(config)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--snr-db", type=float, default=10.0, help="noise level (default 10 dB)")
    parser.add_argument("--threads", type=int, default=2, help="whisper.cpp threads")
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds (best is kept)")
    parser.add_argument("--typed-only", action="store_true", help="skip the speech conditions")
    parser.add_argument("--speech", default="clean,noisy", help="speech conditions (clean,noisy)")
    parser.add_argument("--split", choices=("test", "tune", "all"), default="test",
                        help="which half of the paraphrase set (default: test)")
    parser.add_argument("--file", type=Path, default=DATA,
                        help="another set of the same columns, e.g. tests/data/tag-validation.tsv"
                             " with --split all")
    parser.add_argument("--transcribe-only", action="store_true",
                        help="only transcribe the speech into --work (kept for the next run)")
    args = parser.parse_args(argv)
    pin_allocator()  # the allocator as every program of the gateway runs it
    work = args.work or Path(tempfile.mkdtemp(prefix="bench-tags-"))
    pipeline = load_pipeline(work, args.threads)
    tagger = pipeline.tagger
    assert tagger is not None, "the semantic tagger did not load"
    rows = split_rows(args.split, args.file)
    print(f"{args.file.name} {args.split}: {len(rows)} sentences, "
          f"{sum(len(gold(r)) for r in rows)} tags, "
          f"{sum(1 for r in rows if not gold(r))} with none")
    typed = [[Segment(0, 1, r["text"], r["speaker"])] for r in rows]
    conditions = [("typed", typed)]
    if not args.typed_only:
        for name, snr in (("clean", None), ("noisy", args.snr_db)):
            if name not in args.speech.split(","):
                continue
            started = time.perf_counter()
            prefix = "" if args.file == DATA else f"{args.file.stem}-"
            cache = work / f"{prefix}{args.split}-{name}.json"
            transcripts = heard(pipeline, rows, work, snr, cache)
            print(f"{name} speech: {len(rows)} clips through the pipeline in "
                  f"{time.perf_counter() - started:.1f} s"
                  + (f" (pink noise at {snr:.0f} dB SNR)" if snr is not None else ""))
            conditions.append((name, transcripts))
    if args.transcribe_only:
        return 0
    results: dict[str, Any] = {}
    for name, transcripts in conditions:
        for label, which in (("semantic", tagger), ("rules", None)):
            result = scores(rows, tag_rows(transcripts, which))
            report(name, label, result)
            results[f"{name}/{label}"] = result
    timing = time_per_segment(tagger, [r["text"] for r in rows], args.repeat)
    print(f"time per segment with the model loaded: {timing['batched_ms']:.2f} ms in one call "
          f"per conversation ({timing['batched_cpu_ms']:.2f} ms of CPU time, the steadier figure "
          f"on a shared box), {timing['single_ms']:.2f} ms one at a time "
          f"(rules alone {timing['rules_ms']:.3f} ms)")
    print(f"the text model's run alone: {timing['model_ms']:.2f} ms a text; the tagger costs "
          f"{timing['batched_ms'] / timing['model_ms']:.2f}x that in one call per conversation "
          "(the ratio travels between machines, the milliseconds do not)")
    print(json.dumps({"timing": timing, "results": {
        k: {"micro": v["micro"], "micro_no_pii": v["micro_no_pii"]} for k, v in results.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
