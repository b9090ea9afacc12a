"""Speech commands: ``models install|list|verify`` (speech models; ``minilm`` is handed to
:mod:`gateway.cli.tag`) and ``analyze``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gateway.cli.common import Subcommands, add_command, config_of


def cmd_models(args: argparse.Namespace) -> int:
    from gateway.speech import catalogue
    from gateway.store.layout import Layout

    default = Layout(config_of(args).data_dir).models
    models_dir = Path(args.models_dir) if args.models_dir else default
    if args.name == "minilm":
        from gateway.cli.tag import text_models

        return text_models(args.action, args.name, models_dir, sys.stdout)
    if args.action == "install":
        name = args.name
        if name == "auto":
            from gateway.speech.model_choice import choose_model, read_facts

            choice = choose_model(read_facts())
            name = choice.model
            print(f"auto: {name} ({choice.reason})")
        for model in catalogue.install(models_dir, name, quants=args.quant or ("q8_0", "f16")):
            print(f"{model.name} {model.quant} {model.path} sha256={model.sha256}")
        return 0
    if args.action == "list":
        for model in catalogue.installed(models_dir):
            print(f"{model.name} {model.quant} {model.size} bytes {model.path}")
        return 0
    failed = 0
    for model, ok in catalogue.verify(models_dir):
        print(f"{model.name} {model.quant} {'OK' if ok else 'MISMATCH'} {model.path}")
        failed += not ok
    return 1 if failed else 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from gateway.speech.analyze import analyze_files
    from gateway.speech.factory import build_pipeline

    config = config_of(args)
    if args.model:
        config.speech.model_path = args.model
    if args.threads:
        config.speech.threads = args.threads
    return analyze_files(args.files, build_pipeline(config), sys.stdout)


def register(sub: Subcommands) -> None:
    models = add_command(sub, "models", cmd_models,
                         "install, list or verify offline speech models (and the tagger's "
                         "minilm)")
    models.add_argument("action", choices=("install", "list", "verify"),
                        help="install a model, list installed ones, or re-check their hashes")
    models.add_argument("name", nargs="?", default="tiny.en",
                        choices=("tiny.en", "base", "auto", "minilm"),
                        help="model (default: tiny.en; auto: the one speech.model = auto "
                        "picks on this box; minilm: the semantic tagger's text model)")
    models.add_argument("--quant", action="append", choices=("q8_0", "f16", "ct2"),
                        help="quantization to install (repeatable; default: q8_0 and f16; "
                        "ct2 is the CTranslate2 model for the faster-whisper engine)")
    models.add_argument("--models-dir", help="model folder (default: DATA_DIR/models)")

    analyze = add_command(sub, "analyze", cmd_analyze,
                          "transcribe and tag local audio files: one JSON object per file "
                          "per line")
    analyze.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, Ogg)")
    # JSON lines are analyze's only output, as for every other command here that reports
    # records; --json is still accepted so scripts written for the old spelling keep working.
    analyze.add_argument("--json", action="store_true",
                         help="accepted for compatibility; the output is always one JSON "
                              "object per file per line")
    analyze.add_argument("--model", help="ggml model file (default: from config)")
    analyze.add_argument("--threads", type=int, help="whisper.cpp threads")
