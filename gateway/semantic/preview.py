"""A smart tracker's preview, scored in a short-lived process of its own.

The web UI shows a manager which recent segments a tracker's examples would match. Scoring
needs the text model (onnxruntime and the int8 graph); loaded in the
web UI's process it would stay there for good after one preview, beside the service's own copy.
So :func:`preview` runs ``python -m gateway.semantic.preview``, hands it the examples and the
segments' texts on a pipe (nothing is written to disk), reads back one score and similarity per
text, and the process ends, giving all of it back. A preview costs the time to load the model
(about a second) instead.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gateway.intel.trackers import similarity
from gateway.semantic.catalogue import DEFAULT, TextModelError

if TYPE_CHECKING:  # the web UI imports this module: it loads neither numpy nor the model
    from gateway.intel.semantic import SemanticTagger

NOT_INSTALLED = 3  #: the child's exit status when the model is not installed
TIMEOUT_S = 120.0


@dataclass(frozen=True, slots=True)
class Scored:
    """How one text fares against a tracker: its score (the tracker's confidence) and the
    cosine to the nearest example."""

    score: float
    similarity: float


def score_texts(tagger: SemanticTagger, examples: tuple[str, ...],
                texts: Sequence[str]) -> list[Scored]:
    """Each text scored against a smart tracker's ``examples``."""
    if not texts:
        return []
    vectors = tagger.embed(texts)
    example_vectors = tagger.vectors(examples)
    return [Scored(round(tagger.tracker_score(examples, v), 2),
                   round(similarity(v, example_vectors), 2)) for v in vectors]


def preview(models_dir: Path, examples: tuple[str, ...], texts: Sequence[str], *,
            model: str = DEFAULT) -> list[Scored]:
    """Score ``texts`` against ``examples`` in a child process; raises TextModelError when the
    model is not installed or the child fails."""
    if not texts:
        return []
    request = {"models_dir": str(models_dir), "model": model, "examples": list(examples),
               "texts": list(texts)}
    try:
        done = subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", __name__], input=json.dumps(request), capture_output=True,
            text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TextModelError(f"the tracker preview took over {TIMEOUT_S:.0f} s") from exc
    if done.returncode == NOT_INSTALLED:
        raise TextModelError(done.stderr.strip().splitlines()[-1])
    if done.returncode != 0:
        raise TextModelError(f"the tracker preview failed (exit status {done.returncode}): "
                             f"{done.stderr.strip()[-500:]}")
    return [Scored(float(s), float(c)) for s, c in json.loads(done.stdout)]


def main() -> int:
    """The child: a request on stdin, ``[[score, similarity], ...]`` on stdout."""
    from gateway.semantic.loader import load_tagger

    request = json.load(sys.stdin)
    tagger = load_tagger(Path(request["models_dir"]), model=request["model"])
    if tagger is None:
        print(f"the semantic tagger's model is not installed: run salestag-gateway models "
              f"install {request['model']}", file=sys.stderr)
        return NOT_INSTALLED
    scored = score_texts(tagger, tuple(request["examples"]), request["texts"])
    json.dump([[s.score, s.similarity] for s in scored], sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
