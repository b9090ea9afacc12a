"""Benchmark: speech engines and models on the same synthesized files, in one run.

For each configuration (engine, model, decoding options) a fresh process loads the model and
transcribes the same files, so peak RSS and load time are its own. Printed per configuration:
WER (conversation, and short utterances in several espeak-ng voices), real-time factor, peak
RSS, model load time, the ratio of the gateway pipeline's wall time to bare whisper.cpp on the
same file, model and threads, and the cost per second of speech of short utterances against
long-form speech: first as a model's first clips, then again after it has run full 30 s windows
(whisper.cpp 1.8.5 no longer shrinks its audio context then, see gateway.speech.whispercpp).

    .venv/bin/python bench/asr.py [--threads N] [--configs NAME,...] [--repeat N]
        [--conversation TSV]
    .venv/bin/python bench/asr.py --stages all|STAGE,... [--sets dev,heldout] [--threads N]
        [--texts FILE]

``--stages`` prints instead the WER of short utterances stage by stage, from bare whisper.cpp
to the whole pipeline, clean and noisy (bench/asr_stages.py); ``--texts FILE`` writes there
every clip's reference and heard text per stage (JSON), to compare two stages clip by clip.

The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asr_stages  # bench/, beside this script
import numpy as np
import soundfile
from support import run_isolated

from gateway.config import SpeechConfig
from gateway.intel.lexicon import PRIMED_COMPETITORS
from gateway.speech import catalogue
from gateway.speech.analyze import analyze_files
from gateway.speech.audio import SAMPLE_RATE, load_audio
from gateway.speech.factory import vocabulary_prompt
from gateway.speech.pipeline import SpeechPipeline
from gateway.speech.wer import wer

VOCABULARY = ["Powerwall", "Enphase microinverters", "SolarEdge", "EcoFlow"]
COMPETITORS = ["Sunrun", "SunPower", "Tesla", "Vivint", "LeafFilter"]
CONVERSATION = [
    ("en-us", "Just so you know, this conversation is being recorded so I can follow up."),
    ("en-us+f3", "We already got a proposal from Sunrun for the panels."),
    ("en-us", "Our system uses Enphase microinverters and a Powerwall battery."),
    ("en-us+f3", "The price is just too high for us right now."),
    ("en-gb+m3", "SunPower quoted us a lower monthly payment last week."),
    ("en-us", "We have a zero down payment plan with low monthly installments."),
    ("en-us+f3", "We need some time to think about it."),
    ("en-us", "Let's schedule a follow up visit for next Tuesday afternoon."),
    ("en-us+f4", "Does the warranty cover the roof if something leaks?"),
    ("en-us", "Yes, the workmanship warranty covers roof penetrations for ten years."),
    ("en-gb+m3", "Vivint told us their batteries last longer than yours."),
    ("en-us", "I will email you the proposal with the SolarEdge option tonight."),
]
CONVERSATION_VOICES = ("en-us", "en-us+f3", "en-gb+m3", "en-us+f4")
SHORT = [
    ("en-us", "Do you offer financing?"),
    ("en-us+f3", "That is too expensive."),
    ("en-gb+m3", "We talked to Tesla already."),
    ("en-us+f4", "Can you come back on Friday?"),
    ("en-us", "How long does the install take?"),
    ("en-us+f3", "My husband has to agree first."),
    ("en-gb+m3", "Is the battery included in the price?"),
    ("en-us+f4", "Send me the contract by email."),
]
CONFIGS: dict[str, dict[str, Any]] = {
    "wcpp-tiny.en-q8_0": {"engine": "whisper.cpp", "model": "tiny.en", "quant": "q8_0"},
    "wcpp-tiny.en-q8_0-prompt": {"engine": "whisper.cpp", "model": "tiny.en", "quant": "q8_0",
                                 "prompt": True},
    # a fresh gateway: the prompt holds only the built-in competitor names
    "wcpp-tiny.en-q8_0-builtin": {"engine": "whisper.cpp", "model": "tiny.en", "quant": "q8_0",
                                  "prompt": "built-in"},
    "wcpp-tiny.en-q8_0-beam5": {"engine": "whisper.cpp", "model": "tiny.en", "quant": "q8_0",
                                "beam": 5},
    "wcpp-tiny.en-q8_0-fullctx": {"engine": "whisper.cpp", "model": "tiny.en", "quant": "q8_0",
                                  "shrink": 0.0},
    # the defaults, but every window at full context
    "wcpp-tiny.en-q8_0-builtin-fullctx": {"engine": "whisper.cpp", "model": "tiny.en",
                                          "quant": "q8_0", "prompt": "built-in", "shrink": 0.0},
    "wcpp-tiny.en-f16": {"engine": "whisper.cpp", "model": "tiny.en", "quant": "f16"},
    "wcpp-base-q8_0": {"engine": "whisper.cpp", "model": "base", "quant": "q8_0"},
    "wcpp-base-q8_0-prompt": {"engine": "whisper.cpp", "model": "base", "quant": "q8_0",
                              "prompt": True},
    "fw-tiny.en-int8": {"engine": "faster-whisper", "model": "tiny.en", "quant": "ct2"},
    "fw-base-int8": {"engine": "faster-whisper", "model": "base", "quant": "ct2"},
}


# --- data ------------------------------------------------------------------------------------


def write(path: Path, samples: np.ndarray) -> None:
    soundfile.write(str(path), samples, SAMPLE_RATE, subtype="PCM_16")


def read_conversation(path: Path) -> list[tuple[str, str, float]]:
    """(voice, text, pause after in s) of each turn of a TSV with columns speaker, text,
    pause_after_s; each speaker gets a voice of their own."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    voices: dict[str, str] = {}
    for row in rows:
        voices.setdefault(row["speaker"], CONVERSATION_VOICES[len(voices) % 4])
    return [(voices[r["speaker"]], r["text"], float(r["pause_after_s"])) for r in rows]


def synthesize(work: Path, conversation_tsv: Path | None = None) -> dict[str, Any]:
    """Write the test files; return their paths and reference texts.

    The conversation is the built-in one with random 0.8-3 s pauses, or the turns and pauses of
    ``conversation_tsv``.
    """
    rng = np.random.default_rng(7)
    floor = 0.002  # a faint noise floor, as a real room has
    turns = (read_conversation(conversation_tsv) if conversation_tsv else
             [(voice, text, float(rng.uniform(0.8, 3.0))) for voice, text in CONVERSATION])
    parts, spoken = [np.zeros(SAMPLE_RATE, np.float32)], []
    for voice, text, pause in turns:
        pause_samples = np.zeros(round(pause * SAMPLE_RATE), np.float32)
        parts += [asr_stages.speak(text, voice, work), pause_samples]
        spoken.append(text)
    speech_s = sum(len(p) for p in parts[1::2]) / SAMPLE_RATE
    conversation = np.concatenate(parts)
    conversation += rng.normal(0.0, floor, len(conversation)).astype(np.float32)
    write(work / "conversation.wav", conversation)
    shorts, long_parts = [], []
    for i, (voice, text) in enumerate(SHORT):
        samples = asr_stages.speak(text, voice, work)
        pad = np.zeros(SAMPLE_RATE // 4, np.float32)
        clip = np.concatenate([pad, samples, pad])
        clip += rng.normal(0.0, floor, len(clip)).astype(np.float32)
        write(work / f"short{i}.wav", clip)
        shorts.append({"file": str(work / f"short{i}.wav"), "text": text,
                       "speech_s": len(samples) / SAMPLE_RATE})
        long_parts += [samples, np.zeros(SAMPLE_RATE // 4, np.float32)]
    long_form = np.concatenate(long_parts)
    write(work / "long.wav", long_form)
    return {
        "conversation": {"file": str(work / "conversation.wav"), "text": " ".join(spoken),
                         "duration_s": len(conversation) / SAMPLE_RATE, "speech_s": speech_s},
        "shorts": shorts,
        "long": {"file": str(work / "long.wav"), "text": " ".join(t for _, t in SHORT),
                 "speech_s": sum(s["speech_s"] for s in shorts)},
    }


# --- one configuration, in its own process ----------------------------------------------------


def build_engine(config: dict[str, Any], models: Path, threads: int) -> Any:
    path = catalogue.resolve(models, config["model"], config["quant"])
    prompt = {None: None, True: vocabulary_prompt(VOCABULARY, COMPETITORS),
              "built-in": vocabulary_prompt([], list(PRIMED_COMPETITORS))}[config.get("prompt")]
    if config["engine"] == "faster-whisper":
        from gateway.speech.fasterwhisper import FasterWhisperEngine

        return FasterWhisperEngine(path.parent, threads, initial_prompt=prompt,
                                   beam_size=config.get("beam", 1))
    from gateway.speech.whispercpp import WhisperCppEngine

    defaults = SpeechConfig()
    return WhisperCppEngine(path, threads, initial_prompt=prompt, beam_size=config.get("beam", 1),
                            short_beam_size=config.get("short_beam", defaults.short_beam_size),
                            shrink_ctx_below_s=config.get("shrink",
                                                          defaults.shrink_window_below_s))


def bare_whispercpp(config: dict[str, Any], models: Path, threads: int) -> Any:
    """whisper.cpp as it comes, for the whole file as it is: no VAD, no windows, no guards."""
    from pywhispercpp.model import Model

    quant = "q8_0" if config["quant"] == "ct2" else config["quant"]
    return Model(str(catalogue.resolve(models, config["model"], quant)), n_threads=threads,
                 language="en", print_progress=False, print_realtime=False,
                 redirect_whispercpp_logs_to=None)


def analyzed(pipeline: SpeechPipeline, file: str) -> tuple[float, str]:
    """Wall time of ``analyze`` on ``file`` (decode, pipeline, tagger, JSON), and its text."""
    out = io.StringIO()
    started = time.perf_counter()
    analyze_files([file], pipeline, out)
    return time.perf_counter() - started, json.loads(out.getvalue())["text"]


def bare_call(bare: Any, file: str) -> tuple[float, str]:
    """Wall time of one bare whisper.cpp call on the whole of ``file`` (decode included)."""
    started = time.perf_counter()
    samples = load_audio(Path(file)).samples
    text = " ".join(s.text.strip() for s in bare.transcribe(samples))
    return time.perf_counter() - started, text


def timed(pipeline: SpeechPipeline, file: str, repeat: int) -> tuple[float, str]:
    audio = load_audio(Path(file))
    best, text = float("inf"), ""
    for _ in range(repeat):
        started = time.perf_counter()
        text = pipeline.process(audio).text
        best = min(best, time.perf_counter() - started)
    return best, text


def run_one(name: str, data: dict[str, Any], models: Path, threads: int,
            repeat: int) -> dict[str, Any]:
    config = CONFIGS[name]
    started = time.perf_counter()
    pipeline = SpeechPipeline(build_engine(config, models, threads))
    load_s = time.perf_counter() - started
    conv = data["conversation"]
    # short utterances first: a whisper.cpp model never shrinks its audio context below one it
    # has already used (see gateway.speech.whispercpp), so this is a site's first short clips
    short_s, short_wer = 0.0, []
    for short in data["shorts"]:
        seconds, text = timed(pipeline, short["file"], repeat)
        short_s += seconds
        short_wer.append(wer(short["text"], text))
    long_s, long_text = timed(pipeline, data["long"]["file"], repeat)
    pipe_s, pipe_text = analyzed(pipeline, conv["file"])
    rss_pipeline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # analyze and bare whisper.cpp in turns, so the box's load weighs on both alike
    bare = bare_whispercpp(config, models, threads)
    bare_s, bare_text = float("inf"), ""
    for _ in range(repeat):
        seconds, bare_text = bare_call(bare, conv["file"])
        bare_s = min(bare_s, seconds)
        pipe_s = min(pipe_s, analyzed(pipeline, conv["file"])[0])
    # the same short clips again, now that the model has run full 30 s windows: the steady
    # state of a busy gateway, where whisper.cpp's context no longer shrinks
    # (once each: the first pays for the model's reload, see gateway.speech.whispercpp)
    steady_s = sum(timed(pipeline, short["file"], 1)[0] for short in data["shorts"])
    speech_s = data["long"]["speech_s"]
    return {
        "config": name, **config, "threads": threads,
        "load_s": round(load_s, 3),
        "wer_pipeline": round(wer(conv["text"], pipe_text), 3),
        "wer_bare_whispercpp": round(wer(conv["text"], bare_text), 3),
        "wer_short": round(float(np.mean(short_wer)), 3),
        "wer_long": round(wer(data["long"]["text"], long_text), 3),
        "pipeline_s": round(pipe_s, 3),
        "bare_whispercpp_s": round(bare_s, 3),
        "ratio_to_bare": round(pipe_s / bare_s, 3),
        "rtf": round(pipe_s / conv["duration_s"], 4),
        "short_s_per_speech_s": round(short_s / speech_s, 4),
        "long_s_per_speech_s": round(long_s / speech_s, 4),
        "short_vs_long": round(short_s / long_s, 3),
        "short_vs_long_after_long_windows": round(steady_s / long_s, 3),
        "peak_rss_mb": round(rss_pipeline),
    }


# --- driver -----------------------------------------------------------------------------------


def stage_report(stages: str, sets: list[str], threads: int, texts: Path | None = None) -> int:
    """The short-utterance stage table (see bench/asr_stages.py) for tiny.en q8_0 and f16;
    every clip's text goes to ``texts`` if given."""
    every = ["batch:bare", *asr_stages.stages({}, threads)]  # batch: all clips in one call
    names = every if stages == "all" else stages.split(",")
    with tempfile.TemporaryDirectory(prefix="asr-stages-") as tmp:
        work = Path(tmp)
        models = {m.quant: m.path for m in
                  catalogue.install(work / "models", "tiny.en", quants=("q8_0", "f16"))}
        records = asr_stages.run(sets, names, models, threads, work, texts=texts is not None)
    if texts is not None:
        texts.write_text(json.dumps(records, indent=1), encoding="utf-8")
        records = [{k: v for k, v in r.items() if k != "clips"} for r in records]
    print(json.dumps({"threads": threads, "stages": records}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="engine threads")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the fastest counts")
    parser.add_argument("--configs", default=",".join(CONFIGS),
                        help=f"comma-separated configurations (default: all of {list(CONFIGS)})")
    parser.add_argument("--conversation", type=Path,
                        help="TSV (speaker, text, pause_after_s) to speak as the conversation "
                             "instead of the built-in one (tests/data/conversation-heldout.tsv)")
    parser.add_argument("--stages", metavar="STAGE,...",
                        help="instead of the configurations: WER of short utterances stage by "
                             f"stage ('all' for {', '.join(asr_stages.stages({}, 1))})")
    parser.add_argument("--sets", default="dev,heldout",
                        help="sentence sets for --stages (dev, heldout)")
    parser.add_argument("--texts", type=Path, metavar="FILE",
                        help="with --stages: write every clip's reference and heard text "
                             "per stage to FILE (JSON)")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:  # child process: one configuration
        data = json.loads((args.work / "data.json").read_text())
        print(json.dumps(run_one(args.one, data, args.work / "models", args.threads,
                                 args.repeat)))
        return 0

    if args.stages:
        return stage_report(args.stages, args.sets.split(","), args.threads, args.texts)
    names = [n for n in args.configs.split(",") if n]
    unknown = set(names) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}")
    results = []
    with tempfile.TemporaryDirectory(prefix="asr-bench-") as tmp:
        work = Path(tmp)
        for model in sorted({CONFIGS[n]["model"] for n in names}):
            quants = sorted({CONFIGS[n]["quant"] for n in names if CONFIGS[n]["model"] == model}
                            | {"q8_0"})
            catalogue.install(work / "models", model, quants=quants)
        data = synthesize(work, args.conversation)
        (work / "data.json").write_text(json.dumps(data))
        conv = data["conversation"]
        print(f"conversation {conv['duration_s']:.1f} s "
              f"({1 - conv['speech_s'] / conv['duration_s']:.0%} silence), "
              f"{len(data['shorts'])} short utterances ({data['long']['speech_s']:.1f} s of "
              f"speech), {args.threads} threads")
        header = (f"{'config':28} {'load':>5} {'WER':>5} {'WERbare':>7} {'WERshort':>8} "
                  f"{'RTF':>6} {'ratio':>5} {'short/long':>10} {'RSS MB':>6}")
        print(header)
        for name in names:
            r = run_isolated([__file__, "--one", name, "--work", str(work),
                              "--threads", str(args.threads), "--repeat", str(args.repeat)],
                             f"{name:28}")
            if r is None:
                continue
            results.append(r)
            print(f"{name:28} {r['load_s']:5.2f} {r['wer_pipeline']:5.3f} "
                  f"{r['wer_bare_whispercpp']:7.3f} {r['wer_short']:8.3f} {r['rtf']:6.3f} "
                  f"{r['ratio_to_bare']:5.2f} {r['short_vs_long']:10.2f} {r['peak_rss_mb']:6}")
    print(json.dumps({"threads": args.threads, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
