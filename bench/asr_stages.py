"""Where words are lost: WER of short utterances stage by stage, from bare whisper.cpp to the
gateway's whole pipeline, on the same synthesized clips, clean and with noise.

Each sentence of a TSV (columns id, text) is spoken by espeak-ng (voices in turn) with 0.3 s of
quiet on each side and a faint noise floor; the noisy copy has sox pink noise mixed in at
``SNR_DB`` over the speech. Every stage transcribes every clip on its own (except the batch
stage, which gets them all in one file) and is scored with one normaliser
(:mod:`gateway.speech.wer`) as corpus WER: word errors over reference words.
"""

from __future__ import annotations

import csv
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from gateway.config import SpeechConfig
from gateway.intel.lexicon import PRIMED_COMPETITORS
from gateway.speech import guards as guard_module
from gateway.speech.audio import SAMPLE_RATE, Audio, load_audio
from gateway.speech.factory import vocabulary_prompt
from gateway.speech.pipeline import VAD_PADDING_MS, SpeechPipeline
from gateway.speech.wer import corpus_wer
from gateway.speech.whispercpp import WhisperCppEngine

VOICES = ("en-us", "en-us+f3", "en-gb+m3", "en-us+f4")
SNR_DB = 10.0
EDGE_S = 0.3  # quiet before and after each utterance
FLOOR = 0.002  # a faint noise floor, as a real room has
BATCH_GAP_S = 1.0
PROMPT = vocabulary_prompt([], list(PRIMED_COMPETITORS))  # a fresh gateway's prompt


@dataclass(frozen=True, slots=True)
class Clip:
    text: str
    clean: np.ndarray
    noisy: np.ndarray


def read_sentences(path: Path) -> list[str]:
    """The ``text`` column of a TSV with a header row."""
    with path.open(newline="", encoding="utf-8") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t")]


def speak(text: str, voice: str, work: Path) -> np.ndarray:
    """One utterance as 16 kHz float32 samples, via espeak-ng and sox.

    sox runs repeatable (``-R``): its dither is otherwise random, and tiny.en's words on the
    same sentence differ from run to run with it (dev WER 0.21-0.25 over runs)."""
    raw, wav = work / "raw.wav", work / "utt.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)],
                   check=True)
    return load_audio(wav).samples


def pink_noise(samples: int, work: Path) -> np.ndarray:
    """sox's pink noise, ``samples`` long, as float32 samples."""
    wav = work / "noise.wav"
    subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(wav), "synth",
                    f"{samples / SAMPLE_RATE + 0.1:.3f}", "pinknoise", "vol", "0.5"], check=True)
    return load_audio(wav).samples[:samples]


def noise_gain(speech: np.ndarray, noise: np.ndarray, snr_db: float) -> float:
    """The factor that puts ``noise`` ``snr_db`` below the power of ``speech``."""
    speech_power = float(np.mean(speech.astype(np.float64) ** 2))
    noise_power = float(np.mean(noise.astype(np.float64) ** 2))
    return float(np.sqrt(speech_power / (noise_power * 10 ** (snr_db / 10))))


def synthesize(sentences: list[str], work: Path, seed: int = 11) -> list[Clip]:
    """Clean and noisy clips of each sentence."""
    rng = np.random.default_rng(seed)
    clips = []
    edge = np.zeros(round(EDGE_S * SAMPLE_RATE), np.float32)
    for i, text in enumerate(sentences):
        speech = speak(text, VOICES[i % len(VOICES)], work)
        quiet = np.concatenate([edge, speech, edge])
        noise = pink_noise(len(quiet), work)
        noisy = quiet + noise_gain(speech, noise, SNR_DB) * noise
        clean = quiet + rng.normal(0.0, FLOOR, len(quiet))
        clips.append(Clip(text, clean.astype(np.float32), noisy.astype(np.float32)))
    return clips


# --- the stages ---------------------------------------------------------------------------------

Transcriber = Callable[[np.ndarray], str]


def bare(model_path: Path, threads: int, beam_size: int = 1) -> Transcriber:
    """whisper.cpp as it comes: its defaults (greedy, or beam search of ``beam_size``), the
    whole clip, one call."""
    from pywhispercpp.model import Model

    beam = {"beam_search": {"beam_size": beam_size, "patience": -1.0}} if beam_size > 1 else {}
    model = Model(str(model_path), n_threads=threads, language="en", print_progress=False,
                  print_realtime=False, redirect_whispercpp_logs_to=None,
                  params_sampling_strategy=int(beam_size > 1), **beam)
    return lambda samples: " ".join(s.text.strip() for s in model.transcribe(samples))


def engine(model_path: Path, threads: int, **options: Any) -> WhisperCppEngine:
    """The gateway's whisper.cpp engine with the product's defaults, changed by ``options``."""
    product = SpeechConfig()
    defaults: dict[str, Any] = {"initial_prompt": PROMPT,
                                "shrink_ctx_below_s": product.shrink_window_below_s,
                                "short_beam_size": product.short_beam_size}
    return WhisperCppEngine(model_path, threads, **(defaults | options))


def engine_only(model_path: Path, threads: int, **options: Any) -> Transcriber:
    """The gateway's engine wrapper on the whole clip: no VAD, no guards."""
    eng = engine(model_path, threads, **options)
    return lambda samples: " ".join(s.text for s in eng.transcribe(samples))


def pipeline(model_path: Path, threads: int, *, padding_ms: int = VAD_PADDING_MS,
             guards: bool = True, **options: Any) -> Transcriber:
    """The gateway's speech pipeline (VAD, windows, engine, guards) up to the words it heard:
    the redaction after it replaces phone numbers and such on purpose, which is no word error."""
    pipe = SpeechPipeline(engine(model_path, threads, **options), vad_padding_ms=padding_ms,
                          guard_config=guard_module.DEFAULT_GUARDS if guards else None)
    return lambda samples: " ".join(s.text for s in pipe.transcribe(Audio(samples, SAMPLE_RATE)))


def stages(models: dict[str, Path], threads: int) -> dict[str, Callable[[], Transcriber]]:
    """Each stage's name and how to build its transcriber (built when its turn comes)."""
    def q8() -> Path:
        return models["q8_0"]

    def f16() -> Path:
        return models["f16"]

    full = {"shrink_ctx_below_s": 0.0}
    return {
        "bare": lambda: bare(q8(), threads),
        "bare-f16": lambda: bare(f16(), threads),
        "bare-beam5": lambda: bare(q8(), threads, beam_size=5),
        "engine": lambda: engine_only(q8(), threads),
        "engine-fullctx": lambda: engine_only(q8(), threads, **full),
        "engine-fullctx-prompt": lambda: engine_only(q8(), threads, prompt_min_s=0.0, **full),
        "pipeline": lambda: pipeline(q8(), threads),
        "pipeline-noguards": lambda: pipeline(q8(), threads, guards=False),
        "pipeline-pad300": lambda: pipeline(q8(), threads, padding_ms=300),
        "pipeline-pad800": lambda: pipeline(q8(), threads, padding_ms=800),
        "pipeline-fullctx": lambda: pipeline(q8(), threads, **full),
        "pipeline-fullctx-prompt": lambda: pipeline(q8(), threads, prompt_min_s=0.0, **full),
        "pipeline-nofallback": lambda: pipeline(q8(), threads, temperature_inc=0.0),
        "pipeline-beam5": lambda: pipeline(q8(), threads, beam_size=5, short_beam_size=5),
        "pipeline-greedy": lambda: pipeline(q8(), threads, short_beam_size=1),
        "pipeline-shortbeam3": lambda: pipeline(q8(), threads, short_beam_size=3),
        "pipeline-f16": lambda: pipeline(f16(), threads),
    }


@contextmanager
def _timer() -> Iterator[list[float]]:
    box = [0.0]
    started = time.perf_counter()
    yield box
    box[0] = time.perf_counter() - started


def run_stage(transcribe: Transcriber, clips: list[Clip], noisy: bool
              ) -> tuple[float, float, list[str]]:
    """Corpus WER, seconds of transcription and each clip's text over ``clips``, one call per
    clip."""
    pairs = []
    with _timer() as took:
        for clip in clips:
            pairs.append((clip.text, transcribe(clip.noisy if noisy else clip.clean)))
    return corpus_wer(pairs), took[0], [heard for _, heard in pairs]


def run_batch(transcribe: Transcriber, clips: list[Clip], noisy: bool
              ) -> tuple[float, float, list[str]]:
    """Corpus WER, seconds and the text with all clips in one file, ``BATCH_GAP_S`` apart."""
    gap = np.zeros(round(BATCH_GAP_S * SAMPLE_RATE), np.float32)
    joined = np.concatenate([part for clip in clips
                             for part in (clip.noisy if noisy else clip.clean, gap)])
    with _timer() as took:
        text = transcribe(joined)
    return corpus_wer([(" ".join(c.text for c in clips), text)]), took[0], [text]


def write_wav(path: Path, samples: np.ndarray) -> None:
    soundfile.write(str(path), samples, SAMPLE_RATE, subtype="PCM_16")


SETS = {"dev": Path("../shared/data/dev-utterances.tsv"),
        "heldout": Path("tests/data/asr-heldout.tsv")}


def run(sets: list[str], names: list[str], models: dict[str, Path], threads: int,
        work: Path, *, texts: bool = False) -> list[dict[str, Any]]:
    """Every stage on every set, clean and noisy; one printed line and one record each (with
    each clip's reference and heard text under ``clips`` if ``texts``)."""
    clips = {name: synthesize(read_sentences(SETS[name]), work) for name in sets}
    builders = stages(models, threads)
    unknown = set(names) - set(builders) - {f"batch:{n}" for n in builders}
    if unknown:
        raise SystemExit(f"unknown stages {sorted(unknown)}; known: {list(builders)}")
    print(f"short utterances: {', '.join(f'{n} {len(c)}' for n, c in clips.items())}; "
          f"noise: sox pink noise at {SNR_DB:g} dB SNR; {threads} threads")
    print(f"{'stage':28} {'set':8} {'audio':5} {'WER':>6} {'time s':>7}")
    records = []
    for name in names:
        transcribe = builders[name.removeprefix("batch:")]()
        for set_name, set_clips in clips.items():
            for noisy in (False, True):
                measure = run_batch if name.startswith("batch:") else run_stage
                error_rate, seconds, heard = measure(transcribe, set_clips, noisy)
                audio = "noisy" if noisy else "clean"
                print(f"{name:28} {set_name:8} {audio:5} {error_rate:6.3f} {seconds:7.1f}",
                      flush=True)
                record = {"stage": name, "set": set_name, "audio": audio,
                          "wer": round(error_rate, 3), "seconds": round(seconds, 2)}
                if texts:
                    references = ([" ".join(c.text for c in set_clips)] if len(heard) == 1
                                  and len(set_clips) > 1 else [c.text for c in set_clips])
                    record["clips"] = [{"reference": r, "heard": h}
                                       for r, h in zip(references, heard, strict=True)]
                records.append(record)
    return records
