"""Benchmark: bare whisper.cpp over a whole recording vs the gateway's speech pipeline.

Both run in one process on the same file, model and thread count. Without a FILE, a ~60 s
two-voice conversation with pauses is synthesized with espeak-ng and sox.

    .venv/bin/python bench/asr.py [--model PATH] [--threads N] [--repeat N] [FILE]

The last line printed is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from gateway.speech import catalogue
from gateway.speech.analyze import analyze_files
from gateway.speech.audio import SAMPLE_RATE, load_audio
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.whispercpp import WhisperCppEngine

REPO = Path(__file__).resolve().parents[1]
UTTERANCES = REPO / "../shared/data/dev-utterances.tsv"
FALLBACK = [
    ("rep", "Just so you know, this conversation is being recorded so I can follow up."),
    ("customer", "The price is just too high for us."),
    ("rep", "We have a zero down payment plan with low monthly installments."),
    ("customer", "We already got a proposal from Tesla for the panels."),
    ("customer", "We need some time to think about it."),
    ("rep", "Let's schedule a follow up visit for next Tuesday."),
]
VOICES = {"rep": "en-us", "customer": "en-us+f3"}


def script_lines() -> list[tuple[str, str]]:
    """(speaker, text) pairs from the shared development set, or a built-in few."""
    try:
        with UTTERANCES.open(newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        return [(row["speaker"], row["text"]) for row in rows] or FALLBACK
    except (OSError, KeyError):
        return FALLBACK


def speak(text: str, voice: str, directory: Path) -> np.ndarray:
    """One utterance as 16 kHz float32 samples, via espeak-ng and sox."""
    raw, wav = directory / "raw.wav", directory / "utt.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True)
    return load_audio(wav).samples


def synthesize_conversation(path: Path, target_s: float = 60.0) -> str:
    """Write a conversation of about ``target_s`` with 0.8-3 s pauses; return its text."""
    rng = np.random.default_rng(7)
    parts, spoken, total = [np.zeros(SAMPLE_RATE, dtype=np.float32)], [], 1.0
    lines = script_lines()
    with tempfile.TemporaryDirectory() as tmp:
        for speaker, text in lines * 3:
            if total >= target_s:
                break
            speech = speak(text, VOICES.get(speaker, "en-us"), Path(tmp))
            pause = float(rng.uniform(0.8, 3.0))
            parts += [speech, np.zeros(round(pause * SAMPLE_RATE), dtype=np.float32)]
            spoken.append(text)
            total += len(speech) / SAMPLE_RATE + pause
    signal = np.concatenate(parts)
    signal += rng.normal(0.0, 0.002, len(signal)).astype(np.float32)  # a faint noise floor
    soundfile.write(str(path), signal, SAMPLE_RATE, subtype="PCM_16")
    return " ".join(spoken)


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate: word-level edit distance over the reference length."""
    ref, hyp = words(reference), words(hypothesis)
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1] / max(1, len(ref))


def run_bare(model: Any, file: Path) -> tuple[float, str]:
    started = time.perf_counter()
    segments = model.transcribe(load_audio(file).samples)
    return time.perf_counter() - started, " ".join(s.text.strip() for s in segments)


def run_pipeline(pipeline: SpeechPipeline, file: Path) -> tuple[float, dict[str, Any]]:
    out = io.StringIO()
    started = time.perf_counter()
    status = analyze_files([str(file)], pipeline, out)
    elapsed = time.perf_counter() - started
    record = json.loads(out.getvalue())
    if status:
        raise SystemExit(f"pipeline failed: {record['error']}")
    return elapsed, record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", nargs="?", type=Path, help="audio file (default: synthesized)")
    parser.add_argument("--model", type=Path, help="ggml model file (default: tiny.en q8_0)")
    parser.add_argument("--threads", type=int, default=2, help="whisper.cpp threads")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        work = Path(tmp)
        model_path = args.model
        if model_path is None:
            catalogue.install(work / "models", name="tiny.en", quants=("q8_0",))
            model_path = catalogue.resolve(work / "models", "tiny.en", "q8_0")
        reference = None
        file = args.file
        if file is None:
            file = work / "conversation.wav"
            reference = synthesize_conversation(file)
        duration = load_audio(file).duration_s

        from pywhispercpp.model import Model

        bare_model = Model(
            str(model_path),
            n_threads=args.threads,
            language="en",
            print_progress=False,
            print_realtime=False,
        )
        pipeline = SpeechPipeline(WhisperCppEngine(model_path, args.threads))

        bare_runs, pipe_runs = [], []
        for _ in range(max(1, args.repeat)):
            bare_runs.append(run_bare(bare_model, file))
            pipe_runs.append(run_pipeline(pipeline, file))
        bare_s, bare_text = min(bare_runs, key=lambda r: r[0])
        pipeline_s, record = min(pipe_runs, key=lambda r: r[0])

    result = {
        "file": str(args.file or "synthesized"),
        "duration_s": round(duration, 2),
        "threads": args.threads,
        "bare_s": round(bare_s, 3),
        "pipeline_s": round(pipeline_s, 3),
        "ratio": round(pipeline_s / bare_s, 3),
        "rtf_pipeline": round(pipeline_s / duration, 4),
        "rtf_bare": round(bare_s / duration, 4),
        "words_bare": len(words(bare_text)),
        "words_pipeline": len(words(record["text"])),
        "wer_bare": round(wer(reference, bare_text), 3) if reference else None,
        "wer_pipeline": round(wer(reference, record["text"]), 3) if reference else None,
    }
    print(f"audio      {duration:7.1f} s, model {model_path.name}, {args.threads} threads")
    print(f"bare       {bare_s:7.2f} s  RTF {result['rtf_bare']:.3f}  {result['words_bare']} words")
    print(
        f"pipeline   {pipeline_s:7.2f} s  RTF {result['rtf_pipeline']:.3f}  "
        f"{result['words_pipeline']} words  (asr {record['timing']['asr_s']:.2f} s)"
    )
    print(f"ratio      {result['ratio']:.2f} (pipeline / bare)")
    if reference:
        print(f"WER        bare {result['wer_bare']:.3f}  pipeline {result['wer_pipeline']:.3f}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
