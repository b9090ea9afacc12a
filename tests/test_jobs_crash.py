"""A worker process killed with SIGKILL mid-job: after a restart the job completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import synthesize, wait_for

from gateway.crypto.datakeys import KeyStore
from gateway.protocol.frames import Codec
from gateway.speech.audio import SAMPLE_RATE, load_audio
from gateway.store.conversations import DONE, Conversations
from gateway.store.db import open_db
from gateway.store.jobs import TRANSCRIBE, JobQueue
from gateway.store.spool import AudioSpool

pytestmark = pytest.mark.slow

WORKER = textwrap.dedent(
    """
    import logging, sys, threading
    from pathlib import Path
    from gateway.config import Config
    from gateway.privacy.context import open_privacy
    from gateway.speech.pipeline import SpeechPipeline
    from gateway.speech.whispercpp import WhisperCppEngine
    from gateway.store.db import open_db
    from gateway.store.jobs import JobQueue
    from gateway.worker import TranscriptionWorker

    logging.basicConfig(level=logging.INFO)
    data, model = Path(sys.argv[1]), Path(sys.argv[2])
    db = open_db(data / "gateway.db")
    print("resumed", JobQueue(db).resume_interrupted(), flush=True)
    db.close()
    pipeline = SpeechPipeline(WhisperCppEngine(model, threads=1))
    config = Config()
    config.paths.data_dir = str(data)
    config.consent.jurisdiction = "one_party"  # the clip has no disclosure; not tested here
    keys = data / "keys"
    privacy = open_privacy(config, keys_dir=keys, kek_path=keys / "kek.key",
                           signing_key=keys / "gateway-signing.key",
                           signing_public=keys / "gateway-signing.pub", spool_dir=data / "spool")
    TranscriptionWorker(db_path=data / "gateway.db", privacy=privacy, pipeline=pipeline,
                        upstream=None, keep_raw_audio=False, poll_s=0.05).run(threading.Event())
    """
)


def start_worker(data: Path, model_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with (data / "worker.log").open("ab") as log:
        return subprocess.Popen([sys.executable, "-c", WORKER, str(data), str(model_path)],
                                stdout=log, stderr=log, env=env)


def job_state(data: Path) -> str:
    db = open_db(data / "gateway.db")
    try:
        return str(db.execute("SELECT state FROM jobs").fetchone()[0])
    finally:
        db.close()


def test_killed_worker_job_completes_after_restart(tmp_path: Path, model_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    keys = KeyStore.open_or_create(data / "keys" / "kek.key")
    lines = ["The price is just too high for us.", "We need some time to think about it.",
             "Let's schedule a follow up visit for next Tuesday."] * 2
    parts = []
    for i, text in enumerate(lines):
        parts += [np.zeros(SAMPLE_RATE, np.float32),
                  load_audio(synthesize(text, tmp_path / f"u{i}.wav")).samples]
    pcm = (np.concatenate(parts) * 32767).astype("<i2").tobytes()

    db = open_db(data / "gateway.db")
    data_key, wrapped = keys.new_data_key(b"conv-1")
    conversations = Conversations(db)
    conversations.create(id="conv-1", badge_id="b1", rep_id="r1", site="s1",
                         started_at=time.time(), codec=int(Codec.PCM16),
                         sample_rate=SAMPLE_RATE, channels=1, wrapped_key=wrapped)
    writer = AudioSpool(data / "spool").writer("conv-1", data_key)
    for at in range(0, len(pcm), 32000):
        writer.append(pcm[at : at + 32000])
    writer.close()
    conversations.finish("conv-1", ended_at=time.time(), reason="stop", duplicates=0, gaps=0)
    JobQueue(db).enqueue(TRANSCRIBE, "conv-1")
    db.close()

    worker = start_worker(data, model_path)
    try:
        wait_for(lambda: job_state(data) == "running", 60, "the worker to claim the job")
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == -signal.SIGKILL
    assert job_state(data) == "running"  # orphaned: nobody finished it
    db = open_db(data / "gateway.db")
    assert Conversations(db).get("conv-1").status != DONE
    db.close()

    worker = start_worker(data, model_path)
    try:
        wait_for(lambda: job_state(data) == "done", 120, "the job to complete after restart")
    finally:
        worker.terminate()
        worker.wait(timeout=10)
    db = open_db(data / "gateway.db")
    conversation = Conversations(db).get("conv-1")
    assert conversation.status == DONE
    text = " ".join(s.text for s in Conversations(db).segments("conv-1", data_key)).lower()
    assert "price" in text and "tuesday" in text
    assert db.execute("SELECT attempts FROM jobs").fetchone()[0] == 2
    assert "resumed 1" in (data / "worker.log").read_text()
    assert not AudioSpool(data / "spool").path("conv-1").exists()
    db.close()
