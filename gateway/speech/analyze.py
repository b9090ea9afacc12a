"""One-shot analysis of audio files: one JSON object per file per line."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from gateway.speech.audio import load_audio
from gateway.speech.errors import SpeechError
from gateway.speech.pipeline import PipelineResult, SpeechPipeline


def result_record(
    file: str, result: PipelineResult, pipeline: SpeechPipeline, total_s: float
) -> dict[str, Any]:
    """The JSON record for one analysed file.

    Segments carry their speaker (``unknown`` for single-channel files) and sentiment score;
    ``talk`` holds the talk metrics and ``dropped`` what the hallucination guards removed;
    ``tagger`` says what tagged it (``semantic``, or ``rules`` when its model is absent).
    """
    info = pipeline.engine.info
    return {
        "file": file,
        "text": result.text,
        "duration_s": round(result.duration_s, 3),
        "segments": [
            {"start": round(s.start, 2), "end": round(s.end, 2), "text": s.text,
             "speaker": s.speaker, "sentiment": sentiment}
            for s, sentiment in zip(
                result.segments, result.sentiments or (0.0,) * len(result.segments), strict=True)
        ],
        "tags": [
            {
                "tag": t.tag,
                "start": round(t.start, 2),
                "end": round(t.end, 2),
                "text": t.text,
                "confidence": round(t.confidence, 3),
            }
            for t in result.tags
        ],
        "engine": {"name": info.name, "model_path": info.model_path, "threads": info.threads},
        "tagger": "semantic" if pipeline.tagger is not None else "rules",
        "timing": {"total_s": round(total_s, 3), "asr_s": round(result.asr_s, 3)},
        "talk": dataclasses.asdict(result.talk),
        "dropped": result.dropped,
    }


def error_record(file: str, err: Exception) -> dict[str, Any]:
    """The JSON record for a file that could not be analysed."""
    return {"file": file, "error": {"type": type(err).__name__, "message": str(err)}}


def analyze_files(paths: Sequence[str], pipeline: SpeechPipeline, out: TextIO) -> int:
    """Analyse each file in turn, writing one JSON line per file to ``out``.

    A file that cannot be read or transcribed gets an error record and the rest still run.
    Returns the exit code: 0 if every file was analysed, 1 otherwise.
    """
    status = 0
    for file in paths:
        started = time.perf_counter()
        record: dict[str, Any]
        try:
            result = pipeline.process(load_audio(Path(file)))
            record = result_record(file, result, pipeline, time.perf_counter() - started)
        except (SpeechError, OSError) as err:
            record, status = error_record(file, err), 1
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        out.flush()
    return status
