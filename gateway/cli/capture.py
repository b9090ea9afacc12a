"""Commands for the local microphone: ``capture``, ``capture-devices``."""

from __future__ import annotations

import argparse
import json

from gateway.cli.common import Subcommands, add_command, config_of


def cmd_capture(args: argparse.Namespace) -> int:
    from gateway.service import record_microphone

    config = config_of(args)
    if args.device is not None:
        config.capture.device = args.device
    if args.rate:
        config.capture.sample_rate = args.rate
    frames = args.frames or max(1, int(args.seconds * 1000) // config.capture.frame_ms)
    stats = record_microphone(config, frames)
    print(json.dumps({"frames": stats.frames, "conversations": stats.sessions}))
    return 0


def cmd_capture_devices(args: argparse.Namespace) -> int:
    from gateway.ingest.capture import input_devices

    for index, name, channels in input_devices():
        print(f"{index}\t{name}\t{channels} input channels")
    return 0


def register(sub: Subcommands) -> None:
    cap = add_command(sub, "capture", cmd_capture,
                      "record the local microphone into one conversation (count frames or "
                      "seconds)")
    cap.add_argument("--seconds", type=float, default=10.0,
                     help="how long to record (default: 10)")
    cap.add_argument("--frames", type=int, help="record exactly this many frames instead")
    cap.add_argument("--device", help="input device name or index (default: from config)")
    cap.add_argument("--rate", type=int, help="sample rate in Hz (default: from config)")
    add_command(sub, "capture-devices", cmd_capture_devices, "list the sound input devices")
