"""Tagging commands: ``tag FILE|-`` (the tagger's own face), and ``models ... minilm``.

``tag FILE|- --json`` reads plain text, one sentence a line, and prints one JSON object per
input line: ``{"line": N, "text": <redacted>, "tags": [{"tag", "confidence"}]}``. Lines are
tagged one by one (never joined), by the semantic tagger when its model is installed, with the
site's competitors and trackers from the config.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from gateway.cli.common import Subcommands, add_command, config_of

LINE_SPACING_S = 10.0  # far enough apart that no two lines read as one sentence


def cmd_tag(args: argparse.Namespace) -> int:
    from gateway.semantic.loader import load_tagger
    from gateway.speech.factory import competitors
    from gateway.store.layout import Layout

    config = config_of(args)
    models_dir = Path(args.models_dir) if args.models_dir else Layout(config.data_dir).models
    tagger = load_tagger(models_dir, args.tagger or config.tagger.engine)
    if args.file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        lines = Path(args.file).read_text(encoding="utf-8").splitlines()
    for record in tag_lines(lines, tagger, competitors(config), config.tagger.trackers):
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


def register(sub: Subcommands) -> None:
    """Add the ``tag`` command to the parser."""
    tag = add_command(sub, "tag", cmd_tag,
                      "tag plain text, one sentence a line: one JSON object per input line")
    tag.add_argument("file", metavar="FILE", help="text file, or - for standard input")
    tag.add_argument("--json", action="store_true",
                     help="accepted for symmetry with analyze; the output is always one JSON "
                          "object per input line")
    tag.add_argument("--tagger", choices=("semantic", "rules"),
                     help="override tagger.engine (default: the config's)")
    tag.add_argument("--models-dir", help="model folder (default: DATA_DIR/models)")


def tag_lines(
    lines: Iterable[str], tagger: object, brands: list[str], trackers: list[str]
) -> list[dict[str, object]]:
    """One record per line: its number (1-based), redacted text and tags with confidence."""
    from gateway.intel import Segment, SemanticTagger, annotate

    texts = list(lines)
    segments = [Segment(i * LINE_SPACING_S, i * LINE_SPACING_S + 1.0, text)
                for i, text in enumerate(texts)]
    semantic = tagger if isinstance(tagger, SemanticTagger) else None
    result = annotate(segments, competitors=brands, trackers=trackers, tagger=semantic)
    tags: list[list[dict[str, object]]] = [[] for _ in texts]
    for tag in result.tags:
        tags[round(tag.start / LINE_SPACING_S)].append(
            {"tag": tag.tag, "confidence": round(tag.confidence, 2)})
    return [{"line": i + 1, "text": segment.text, "tags": found}
            for i, (segment, found) in enumerate(zip(result.segments, tags, strict=True))]


def text_models(action: str, name: str, models_dir: Path, out: TextIO) -> int:
    """``models install|list|verify minilm``: the semantic tagger's text model."""
    from gateway.semantic import catalogue

    if action == "install":
        model = catalogue.install(models_dir, name)
        print(f"{name} onnx {model.onnx} sha256={model.entry.onnx_sha256}", file=out)
        print(f"{name} tokenizer {model.tokenizer} sha256={model.entry.tokenizer_sha256}",
              file=out)
        # Train the tagger's head here, in a process that exits, so the gateway's first start
        # loads it instead of training it (training peaks ~90 MB above a loaded head).
        from gateway.semantic.loader import builtin_head_path, load_tagger

        tagger = load_tagger(models_dir, model=name)
        head = builtin_head_path(models_dir, name)
        if tagger is not None and head.is_file():
            print(f"{name} head {head} examples={len(tagger.head.labels)}", file=out)
        return 0
    if action == "list":
        for installed in catalogue.installed(models_dir):
            print(f"{installed} {models_dir / installed}", file=out)
        return 0
    failed = 0
    for installed, ok in catalogue.verify(models_dir):
        print(f"{installed} {'OK' if ok else 'MISMATCH'} {models_dir / installed}", file=out)
        failed += not ok
    return 1 if failed else 0
