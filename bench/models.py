"""Benchmark: the catalogue's speech models side by side, to choose a default per hardware class.

Each model (``name/quant``, whisper.cpp) runs in its own process, so its peak RSS is its own:

- word error rate of the gateway pipeline and of bare whisper.cpp (one call per clip) on the
  development sentences (``../shared/data/dev-utterances.tsv``) and the held-out short
  sentences (``../heldout/asr-sentences.tsv``; measured, never tuned on), each clean and with
  pink noise at 10 dB SNR; WER is the corpus figure (word edits over reference words);
- real-time factor of the pipeline on a conversation of the development sentences with pauses
  (about a third silence), at each thread count;
- the encoder's time for one full 30 s window at each thread count: what whisper.cpp's own
  ``bench`` measures, so published Raspberry Pi figures of it give a Pi estimate (below).

    .venv/bin/python bench/models.py [--models tiny.en/q8_0,base/q8_0] [--threads 1,2]
                                     [--sets dev,heldout] [--kinds clean,noisy] [--rounds 2]
                                     [--no-bare]

On a box shared with other work, time at 1 thread: threads that wait on each other make a
2-thread figure meaningless there (``--threads ""`` measures word errors only).

The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from asr import bare_whispercpp, build_engine, write
from asr_stages import speak
from support import log, run_isolated

from gateway.speech import catalogue
from gateway.speech.audio import SAMPLE_RATE, load_audio
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.wer import corpus_wer

SETS = {"dev": Path("../shared/data/dev-utterances.tsv"),
        "heldout": Path("../heldout/asr-sentences.tsv")}
VOICES = ["en-us", "en-us+f3", "en-gb+m3", "en-us+f4"]
SNR_DB = 10.0
FLOOR = 0.002  # a faint noise floor, as a real room has
WER_THREADS = 1  # threads change no word; one thread does not stall on a loaded box

# Published whisper.cpp `bench` encoder times for one 30 s window, 4 threads, in ms: Raspberry
# Pi 5 (BCM2712, Bookworm, NEON, commit 54c978c, 2023-11-03), whisper.cpp issue 89 "Benchmark
# results". The same post puts the Pi 5 at 4.5-6.2x a Pi 4; the estimate takes the slow end.
# whisper.cpp's ARM code has only got faster since that commit, so these err on the slow side.
PI5_ENCODE_MS_4T = {"tiny.en": 1109.66, "base": 2479.82}
PI4_OVER_PI5 = 6.2


# --- data ------------------------------------------------------------------------------------


def sentences(path: Path) -> list[str]:
    """The ``text`` column of a sentence list (TSV with a header)."""
    if not path.is_file():
        raise SystemExit(f"{path} is missing (run from the repository root)")
    with path.open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t") if row.get("text")]


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise whose power falls as 1/f (white noise shaped in the frequency domain)."""
    spectrum = np.fft.rfft(rng.normal(0.0, 1.0, n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def synthesize(name: str, texts: list[str], work: Path) -> dict[str, Any]:
    """Clean and noisy clips of each sentence (voices in turn), and the conversation of them."""
    rng = np.random.default_rng(11)
    clips, parts = [], [np.zeros(SAMPLE_RATE, np.float32)]
    for i, text in enumerate(texts):
        speech = speak(text, VOICES[i % len(VOICES)], work)
        pad = np.zeros(SAMPLE_RATE // 4, np.float32)
        clean = np.concatenate([pad, speech, pad])
        clean += rng.normal(0.0, FLOOR, len(clean)).astype(np.float32)
        rms = float(np.sqrt(np.mean(speech**2)))
        noisy = clean + pink_noise(len(clean), rng) * rms / 10 ** (SNR_DB / 20)
        paths = {}
        for kind, samples in (("clean", clean), ("noisy", np.clip(noisy, -1.0, 1.0))):
            paths[kind] = str(work / f"{name}-{i}-{kind}.wav")
            write(Path(paths[kind]), samples)
        clips.append({"text": text, **paths})
        pause = float(rng.uniform(1.0, 5.0))
        parts += [speech, np.zeros(round(pause * SAMPLE_RATE), np.float32)]
    conversation = np.concatenate(parts)
    conversation += rng.normal(0.0, FLOOR, len(conversation)).astype(np.float32)
    write(work / f"{name}-conversation.wav", conversation)
    return {"clips": clips, "conversation": str(work / f"{name}-conversation.wav"),
            "conversation_s": len(conversation) / SAMPLE_RATE}


# --- one model, in its own process -----------------------------------------------------------


def encode_ms(model_file: Path, threads: int, repeat: int = 3) -> float:
    """Best time of whisper.cpp's encoder over one full 30 s window, as its ``bench`` does."""
    import _pywhispercpp as pw
    from pywhispercpp.model import Model

    model = Model(str(model_file), n_threads=threads, print_progress=False,
                  print_realtime=False, redirect_whispercpp_logs_to=None)
    ctx = model._ctx
    pw.whisper_pcm_to_mel(ctx, np.zeros(30 * SAMPLE_RATE, np.float32), 30 * SAMPLE_RATE,
                          threads)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        if pw.whisper_encode(ctx, 0, threads) != 0:
            raise RuntimeError("whisper_encode failed")
        best = min(best, time.perf_counter() - started)
    return best * 1000


def run_model(spec: str, data: dict[str, Any], models: Path, threads: list[int],
              kinds: list[str], with_bare: bool, rounds: int) -> dict[str, Any]:
    """Every figure of one model; each is also logged to stderr as soon as it is known."""
    name, quant = spec.split("/")
    config = {"engine": "whisper.cpp", "model": name, "quant": quant, "prompt": "built-in"}
    result: dict[str, Any] = {"model": spec,
                              "size_mb": round(catalogue.resolve(models, name, quant)
                                               .stat().st_size / 1e6, 1)}
    conversation = data["sets"].get("dev") or next(iter(data["sets"].values()))
    for n in threads:
        result.update(timing(config, models, Path(conversation["conversation"]), n, rounds))
        log(f"{spec} {result}")
    if threads:
        result.update(pi_estimates(name, result, max(threads)))
    pipeline = SpeechPipeline(build_engine(config, models, WER_THREADS))
    bare = bare_whispercpp(config, models, WER_THREADS) if with_bare else None
    for set_name, clips in data["sets"].items():
        for kind in kinds:
            piped, raw = [], []
            for clip in clips["clips"]:
                audio = load_audio(Path(clip[kind]))
                # the words heard, before redaction: a phone number replaced on purpose
                # is no word error (as bench/asr_stages.py scores)
                piped.append((clip["text"], " ".join(
                    s.text for s in pipeline.transcribe(audio))))
                if bare is not None:
                    raw.append((clip["text"], " ".join(
                        s.text.strip() for s in bare.transcribe(audio.samples))))
            result[f"wer_{set_name}_{kind}"] = round(corpus_wer(piped), 3)
            if bare is not None:
                result[f"wer_{set_name}_{kind}_bare"] = round(corpus_wer(raw), 3)
            log(f"{spec} {result}")
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def timing(config: dict[str, Any], models: Path, conversation: Path, threads: int,
           rounds: int) -> dict[str, Any]:
    """The pipeline's RTF on the conversation, and the encoder's time for a 30 s window.

    The encoder is timed right before and after each conversation, so the ratio of the two
    (the Pi estimate's basis; the median over rounds) sees the same load on a shared box.
    """
    audio = load_audio(conversation)
    model_file = catalogue.resolve(models, config["model"], config["quant"])
    rtfs, encodes, ratios = [], [], []
    for _ in range(rounds):
        before = encode_ms(model_file, threads)
        pipeline = SpeechPipeline(build_engine(config, models, threads))
        started = time.perf_counter()
        pipeline.process(audio)
        rtfs.append((time.perf_counter() - started) / audio.duration_s)
        del pipeline
        after = encode_ms(model_file, threads)
        encodes += [before, after]
        ratios.append(rtfs[-1] / ((before + after) / 2))
    return {f"rtf_{threads}t": round(min(rtfs), 4),
            f"encode_ms_{threads}t": round(min(encodes), 1),
            f"rtf_per_encode_ms_{threads}t": float(np.median(ratios)),
            "conversation_s": round(audio.duration_s, 1)}


def pi_estimates(name: str, result: dict[str, Any], threads: int) -> dict[str, Any]:
    """Raspberry Pi real-time factors at 4 threads, ESTIMATED: the pipeline RTF measured at
    ``threads``, scaled by the published Pi 5 encoder time over the encoder time measured here
    around it (at the same threads)."""
    if name not in PI5_ENCODE_MS_4T:
        return {}
    pi5 = result[f"rtf_per_encode_ms_{threads}t"] * PI5_ENCODE_MS_4T[name]
    return {"est_pi5_rtf_4t": round(pi5, 3),
            "est_pi4_rtf_4t": round(pi5 * PI4_OVER_PI5, 3)}


# --- driver -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny.en/q8_0,base/q8_0",
                        help="comma-separated name/quant (default: %(default)s)")
    parser.add_argument("--threads", default="1,2", help="thread counts for the RTF")
    parser.add_argument("--sets", default="dev,heldout", help=f"sentence sets of {list(SETS)}")
    parser.add_argument("--kinds", default="clean,noisy", help="clean, noisy or both")
    parser.add_argument("--rounds", type=int, default=2,
                        help="conversations timed per thread count")
    parser.add_argument("--no-bare", action="store_true",
                        help="skip bare whisper.cpp per clip (halves the time)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    threads = [int(n) for n in args.threads.split(",") if n]  # none: word errors only
    if args.one:  # child process: one model
        data = json.loads((args.work / "data.json").read_text())
        print(json.dumps(run_model(args.one, data, args.work / "models", threads,
                                   args.kinds.split(","), not args.no_bare, args.rounds)))
        return 0

    specs = [s for s in args.models.split(",") if s]
    for spec in specs:
        name, _, quant = spec.partition("/")
        if f"{name}/{quant}" not in catalogue.known():
            parser.error(f"unknown model {spec}; known: {catalogue.known()}")
    results = []
    with tempfile.TemporaryDirectory(prefix="models-bench-") as tmp:
        work = Path(tmp)
        for spec in specs:
            name, quant = spec.split("/")
            catalogue.install(work / "models", name, quants=sorted({quant, "q8_0"}))
        data = {"sets": {s: synthesize(s, sentences(SETS[s]), work)
                         for s in args.sets.split(",") if s}}
        (work / "data.json").write_text(json.dumps(data))
        for set_name, clips in data["sets"].items():
            print(f"{set_name}: {len(clips['clips'])} sentences, clean and pink noise at "
                  f"{SNR_DB:g} dB SNR; conversation {clips['conversation_s']:.1f} s")
        for spec in specs:
            r = run_isolated([__file__, "--one", spec, "--work", str(work),
                              "--threads", args.threads, "--kinds", args.kinds,
                              "--rounds", str(args.rounds),
                              *(["--no-bare"] if args.no_bare else [])],
                             f"{spec:14}", show_errors=True)
            if r is None:
                continue
            results.append(r)
            wers = " ".join(f"{k[4:]} {v:.3f}" for k, v in r.items() if k.startswith("wer_"))
            rtfs = " ".join(f"RTF@{n} {r[f'rtf_{n}t']:.3f} enc@{n} {r[f'encode_ms_{n}t']:.0f} ms"
                            for n in threads)
            print(f"{spec:14} {wers}")
            print(f"{'':14} {rtfs}; RSS {r['peak_rss_mb']} MB; "
                  f"ESTIMATE Pi 5 RTF@4 {r.get('est_pi5_rtf_4t', '-')}, "
                  f"Pi 4 RTF@4 {r.get('est_pi4_rtf_4t', '-')}")
    print(json.dumps({"threads": threads, "snr_db": SNR_DB, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
