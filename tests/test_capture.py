"""The local microphone: real PortAudio and ALSA, no sound card.

An ALSA `file` plugin device reads a raw file as if it were a microphone (its output goes to the
`null` plugin), loaded through ALSA_CONFIG_PATH. It is not paced, so the tests count frames, not
seconds. The recorded conversations are decrypted from the real spool and compared byte for byte
with the file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway.crypto.datakeys import KeyStore
from gateway.ingest.capture import CaptureFormat, MicSession
from gateway.protocol.frames import Codec
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.spool import AudioSpool

RATE = 48000
FRAME_MS = 100
FRAME_BYTES = RATE * FRAME_MS // 1000 * 2


@pytest.fixture
def alsa_mic(tmp_path: Path) -> tuple[dict[str, str], bytes]:
    """Environment with an ALSA device `filemic` that plays back a raw S16_LE mono file."""
    if not Path("/usr/share/alsa/alsa.conf").exists():
        pytest.skip("ALSA's configuration is missing (libasound2)")
    rng = np.random.default_rng(8)
    samples = (rng.standard_normal(RATE * 13) * 3000).clip(-32768, 32767).astype("<i2")
    raw = samples.tobytes()
    infile = tmp_path / "mic.raw"
    infile.write_bytes(raw)
    asoundrc = tmp_path / "asoundrc"
    asoundrc.write_text(
        f'pcm.filecap {{ type file slave.pcm "null" file "/dev/null" infile "{infile}" '
        'format "raw" }\n'
        f'pcm.filemic {{ type plug slave {{ pcm "filecap" format S16_LE rate {RATE} '
        'channels 1 } }\n')
    env = {**os.environ, "ALSA_CONFIG_PATH": f"/usr/share/alsa/alsa.conf:{asoundrc}"}
    return env, raw


def _config(tmp_path: Path, session_s: float = 300.0) -> Path:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{tmp_path / "data"}"\n'
                      f'[capture]\ndevice = "filemic"\nsample_rate = {RATE}\n'
                      f"frame_ms = {FRAME_MS}\nsession_s = {session_s}\n")
    return config


def _capture(env: dict[str, str], config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", "--config", str(config), "capture",
                           *args], env=env, capture_output=True, text=True, timeout=120)


def _spooled_audio(data_dir: Path, conversation_id: str) -> bytes:
    from gateway.privacy.context import VAULT_FILE
    from gateway.store.keyvault import KeyVault

    keys = KeyStore.load(data_dir / "keys" / "kek.key")
    db = open_db(data_dir / "gateway.db")
    try:
        conversation = Conversations(db).get(conversation_id)
        vault = KeyVault(data_dir / "keys" / VAULT_FILE, keys)
        try:
            key = vault.key_for(conversation)
        finally:
            vault.close()
    finally:
        db.close()
    return AudioSpool(data_dir / "spool").read(conversation_id, key)


def test_capture_records_the_device_into_an_encrypted_conversation(
        tmp_path: Path, alsa_mic: tuple[dict[str, str], bytes]) -> None:
    env, raw = alsa_mic
    result = _capture(env, _config(tmp_path), "--frames", "30")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["frames"] == 30 and len(summary["conversations"]) == 1
    data_dir = tmp_path / "data"
    conversation_id = summary["conversations"][0]
    db = open_db(data_dir / "gateway.db")
    try:
        conversation = Conversations(db).get(conversation_id)
        queued = db.execute("SELECT count(*) FROM jobs WHERE conversation_id = ?",
                            [conversation_id]).fetchone()[0]
    finally:
        db.close()
    assert conversation.badge_id == "local-mic"
    assert conversation.sample_rate == RATE and conversation.channels == 1
    assert queued == 1  # transcription queued like any badge's conversation
    audio = _spooled_audio(data_dir, conversation_id)
    assert audio == raw[: 30 * FRAME_BYTES]  # the microphone's bytes, in order, once
    spool_file = next((data_dir / "spool").iterdir())
    assert raw[FRAME_BYTES: FRAME_BYTES + 64] not in spool_file.read_bytes()  # encrypted


def test_long_recordings_are_cut_into_conversations(
        tmp_path: Path, alsa_mic: tuple[dict[str, str], bytes]) -> None:
    env, raw = alsa_mic
    result = _capture(env, _config(tmp_path, session_s=5), "--frames", "120")
    assert result.returncode == 0, result.stderr
    ids = json.loads(result.stdout)["conversations"]
    assert len(ids) == 3  # 50 + 50 + 20 frames of 100 ms
    audio = b"".join(_spooled_audio(tmp_path / "data", cid) for cid in ids)
    assert audio == raw[: 120 * FRAME_BYTES]


def test_missing_device_is_a_clear_error(tmp_path: Path,
                                         alsa_mic: tuple[dict[str, str], bytes]) -> None:
    env, _ = alsa_mic
    result = _capture(env, _config(tmp_path), "--frames", "3", "--device", "no-such-mic")
    assert result.returncode == 1
    assert "no-such-mic" in result.stderr


def test_mic_session_numbers_frames_like_a_badge() -> None:
    fmt = CaptureFormat(sample_rate=16000, channels=2, frame_ms=20)
    assert fmt.frame_samples == 320 and fmt.frame_bytes == 1280
    session = MicSession(fmt, rep_id="local-mic", started_at=1_700_000_000.0)
    start = session.start()
    assert (start.codec, start.sample_rate, start.channels) == (Codec.PCM16, 16000, 2)
    frames = [session.frame(bytes(fmt.frame_bytes), final=i == 2) for i in range(3)]
    assert [f.seq for f in frames] == [0, 1, 2]
    assert [f.timestamp_ms for f in frames] == [0, 20, 40]
    assert [f.final for f in frames] == [False, False, True]
    assert session.stop().last_seq == 2
    assert MicSession(fmt, rep_id="r", started_at=0.0).stop().last_seq is None
