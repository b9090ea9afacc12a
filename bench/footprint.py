"""Footprint benchmark: the whole gateway's memory while it receives and transcribes.

Runs ``salestag-gateway run`` as the appliance does (ingest, transcription workers, retention,
audit checkpoints, and the web UI and upload server as child processes) against its own
Mosquitto, with the speech model and the semantic tagger's text model (``minilm``) that
``models install`` put in its data directory. A paired badge then
streams N synthesized conversations over TLS (``badge-sim --fast``), one short and one long in
turn, and every process of the gateway's tree is sampled until all are transcribed. The baseline,
in the same run, is the same tree idle before the first conversation.

    .venv/bin/python bench/footprint.py [--conversations N] [--model tiny.en] [--workers N]
                                [--short-beam N]

Prints progress to stderr and one final JSON line: peak_rss_mb (summed over the processes: shared
pages counted in each), peak_pss_mb (shared pages split between them: what the box really
spends), idle_rss_mb, idle_pss_mb, per-process peak RSS and PSS, conversations, seconds. Every
program of the gateway pins glibc's allocator at start (gateway.entry.pin_allocator), so the
figures are the product's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support import GATEWAY, free_port, log, make_gateway

from gateway.store.layout import Layout

LINES = [
    "Thanks for coming in today. I should tell you this call is recorded for quality.",
    "The premium plan includes installation and two years of service.",
    "Honestly the price is more than we budgeted, and Acme quoted us less last week.",
    "We can spread the payments over twelve months with our financing.",
    "Let us book the installation for next Tuesday, and I will send the contract tonight.",
]


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MiB; zeros once it is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0.0, 0.0
    fields = {line.split(":")[0]: int(line.split()[1]) for line in text.splitlines()[1:]
              if line.split()[-1] == "kB"}
    return fields.get("Rss", 0) / 1024, fields.get("Pss", 0) / 1024


def tree(root: int) -> dict[int, str]:
    """Every process under ``root`` (itself included), with its command line."""
    found = {root: ""}
    for _ in range(4):  # service -> gunicorn master -> workers
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                if ppid in found and int(entry.name) not in found:
                    found[int(entry.name)] = ""
            except (OSError, ValueError):
                continue
    for pid in found:
        try:
            argv = (Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0"))
            found[pid] = " ".join(a.decode() for a in argv if a)[-60:]
        except OSError:
            found[pid] = "?"
    return found


def sample(root: int) -> tuple[float, float, dict[str, tuple[float, float]]]:
    """Summed RSS and PSS of the tree, and (RSS, PSS) of each process."""
    rss = pss = 0.0
    each: dict[str, tuple[float, float]] = {}
    for pid, name in tree(root).items():
        r, p = memory_mb(pid)
        rss, pss = rss + r, pss + p
        each[f"{pid} {name}"] = (r, p)
    return rss, pss, each


def keep_peaks(peaks: dict[str, tuple[float, float]],
               each: dict[str, tuple[float, float]]) -> None:
    for name, (r, p) in each.items():
        old = peaks.get(name, (0.0, 0.0))
        peaks[name] = (max(old[0], r), max(old[1], p))


def speak(text: str, path: Path) -> None:
    raw = path.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(raw), text], check=True)
    subprocess.run(["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)],
                   check=True)


def setup(root: Path, model: str, workers: int, tagger: str = "semantic",
          short_beam: int | None = None) -> Path:
    beam = "" if short_beam is None else f"short_beam_size = {short_beam}"
    config = make_gateway(root, "bench", f"""
[ingest]
session_timeout_s = 5
[speech]
model = "{model}"
workers = {workers}
{beam}
[tagger]
engine = "{tagger}"
[web]
port = {free_port()}
[upload]
port = {free_port()}
""")
    run = [*GATEWAY, "--config", str(config)]
    subprocess.run([*run, "models", "install", model], check=True, capture_output=True)
    subprocess.run([*run, "models", "install", "minilm"], check=True, capture_output=True)
    subprocess.run([*run, "badge", "pair", "badge-1", "--out", str(root / "bundles")],
                   check=True, capture_output=True)
    return config


def settled(db: Path, expected: int) -> bool:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT status FROM conversations").fetchall()
    return len(rows) >= expected and all(r[0] not in ("receiving", "queued", "transcribing")
                                         for r in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=6)
    parser.add_argument("--model", default="tiny.en", choices=("tiny.en", "base"))
    parser.add_argument("--workers", type=int, default=1, help="transcription workers")
    parser.add_argument("--tagger", default="semantic", choices=("semantic", "rules"),
                        help="tagger.engine (rules: the keyword rules alone, no text model)")
    parser.add_argument("--short-beam", type=int,
                        help="speech.short_beam_size (default: the product's)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    procs: list[subprocess.Popen[bytes]] = []
    try:
        log(f"setting up a gateway with {args.model} in {root}")
        config = setup(root, args.model, args.workers, args.tagger, args.short_beam)
        short, long_ = root / "short.wav", root / "long.wav"
        speak(LINES[2], short)
        speak(" ".join(LINES * 3), long_)
        broker_conf = root / "data" / "mosquitto" / "mosquitto.conf"
        procs.append(subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c",
                                       str(broker_conf)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
        gateway = subprocess.Popen([*GATEWAY, "--config", str(config), "run"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        time.sleep(8)  # start-up, and the children's
        idle_rss, idle_pss, _ = sample(gateway.pid)
        log(f"idle: RSS {idle_rss:.0f} MB, PSS {idle_pss:.0f} MB")
        started = time.monotonic()
        peak_rss = peak_pss = 0.0
        peaks: dict[str, tuple[float, float]] = {}
        for n in range(args.conversations):
            wav = long_ if n % 2 else short
            sim = subprocess.Popen([*GATEWAY, "--config", str(config), "badge-sim", "--wav",
                                    str(wav), "--bundle", str(root / "bundles" / "badge-1"),
                                    "--fast", "--wait-acked", "60"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while sim.poll() is None:
                rss, pss, each = sample(gateway.pid)
                peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
                keep_peaks(peaks, each)
                time.sleep(0.2)
        db = Layout(root / "data").db
        deadline = time.monotonic() + 600
        while not settled(db, args.conversations) and time.monotonic() < deadline:
            rss, pss, each = sample(gateway.pid)
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            keep_peaks(peaks, each)
            time.sleep(0.2)
        if not settled(db, args.conversations):
            raise SystemExit("bench: the conversations were not all transcribed in time")
        print(json.dumps({
            "model": args.model, "workers": args.workers, "tagger": args.tagger,
            "short_beam": args.short_beam,
            "conversations": args.conversations,
            "seconds": round(time.monotonic() - started, 1),
            "idle_rss_mb": round(idle_rss, 1), "idle_pss_mb": round(idle_pss, 1),
            "peak_rss_mb": round(peak_rss, 1), "peak_pss_mb": round(peak_pss, 1),
            "per_process_peak_rss_mb": {k: round(v[0], 1) for k, v in
                                        sorted(peaks.items(), key=lambda kv: -kv[1][0])},
            "per_process_peak_pss_mb": {k: round(v[1], 1) for k, v in
                                        sorted(peaks.items(), key=lambda kv: -kv[1][1])}}))
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
