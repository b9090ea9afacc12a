"""End to end with real parts: two Mosquitto brokers, the gateway process, a badge, real speech.

The upstream broker's every message is captured to prove that no audio and no transcript text
leaves the device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Broker, start_mosquitto, synthesize
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.crypto.identity import generate_tenant_keypair, load_signer, load_tenant_private_key
from gateway.ingest.badge_sim import BadgeSimulator
from gateway.speech.audio import load_audio
from gateway.sync.envelope import open_sealed, to_json

pytestmark = pytest.mark.slow

LINES = [
    "Just so you know, this conversation is being recorded so I can follow up accurately.",
    "Honestly, that is way more than we can afford right now.",
    "Another company quoted us a lot less last week.",
    "Do you offer any financing options?",
    "You can reach me at five five five, two one two, four three six eight.",
    "I will email you the proposal tonight and call you on Thursday.",
]
EXPECTED_TAGS = {"consent.disclosure", "objection.price", "competitor.mention", "financing",
                 "pii.phone", "next_step"}


class Capture:
    """Subscribes to everything on a broker and keeps every message."""

    def __init__(self, broker: Broker) -> None:
        self.messages: list[tuple[str, bytes]] = []
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_connect = lambda c, *a: (c.subscribe("#", qos=1), self.ready.set())
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, bytes(m.payload)))
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.ready.wait(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def brokers(tmp_path: Path) -> Iterator[tuple[Broker, Broker]]:
    local = start_mosquitto(tmp_path / "local")
    upstream = start_mosquitto(tmp_path / "upstream")
    yield local, upstream
    local.stop()
    upstream.stop()


def write_config(path: Path, data_dir: Path, local: Broker, upstream: Broker, model: Path) -> None:
    path.write_text(f"""
[site]
id = "store-42"
gateway_id = "gw-e2e"
[paths]
data_dir = "{data_dir}"
[broker]
port = {local.port}
[ingest]
session_timeout_s = 5
[speech]
model_path = "{model}"
threads = 2
[upstream]
enabled = true
host = "127.0.0.1"
port = {upstream.port}
tls = false
tenant_public_key = "{data_dir.parent / 'hq' / 'tenant.pub'}"
""")


def gateway_cmd(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "gateway", "--config", str(config), *args]


def test_badge_to_hq(tmp_path: Path, brokers: tuple[Broker, Broker], model_path: Path) -> None:
    local, upstream = brokers
    data_dir = tmp_path / "data"
    hq_dir = tmp_path / "hq"
    hq_dir.mkdir()
    generate_tenant_keypair(hq_dir / "tenant.key", hq_dir / "tenant.pub")
    config = tmp_path / "gateway.toml"
    write_config(config, data_dir, local, upstream, model_path)
    subprocess.run(gateway_cmd(config, "init"), check=True, capture_output=True)

    capture = Capture(upstream)
    hq = subprocess.Popen(
        gateway_cmd(config, "hq", "receive", "--port", str(upstream.port),
                    "--key", str(hq_dir / "tenant.key"),
                    "--signer", str(data_dir / "keys" / "gateway-signing.pub"),
                    "--count", "1", "--timeout", "240"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    with (tmp_path / "gateway.log").open("wb") as log:
        gateway = subprocess.Popen(gateway_cmd(config, "run"), stdout=log, stderr=log,
                                   env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wav = synthesize(" ".join(LINES), tmp_path / "conversation.wav")
        audio = load_audio(wav)
        badge = BadgeSimulator(host=local.host, port=local.port, site="store-42",
                               badge_id="badge-7")
        badge.wait_for_gateway(60)
        # bad input from another badge must not disturb this session
        badge.client.publish("salestag/v1/store-42/badges/badge-9/audio", b"not a frame", qos=1)
        badge.client.publish("salestag/v1/store-42/badges/badge-9/control", b"{oops", qos=1)
        result = badge.stream(audio.samples, rep_id="rep-3", realtime=False, frame_ms=100)
        badge.close()

        shown = subprocess.run(
            gateway_cmd(config, "conversations", result.session_id, "--wait", "180"),
            check=True, capture_output=True, text=True)
        record = json.loads(shown.stdout)
        hq_out, hq_err = hq.communicate(timeout=120)
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
        hq.kill()
        capture.close()

    # the transcript
    assert record["status"] == "done", (tmp_path / "gateway.log").read_text()
    text = " ".join(s["text"] for s in record["segments"]).lower()
    for word in ("recorded", "afford", "company", "financing", "proposal"):
        assert word in text, text
    assert "[PHONE]" in text.upper()
    assert "4368" not in text and "four three six eight" not in text
    assert record["frames"] == result.frames

    # the tags, with plausible times
    tags = {t["tag"]: t for t in record["tags"]}
    assert EXPECTED_TAGS <= set(tags), sorted(tags)
    duration = audio.duration_s
    for tag in record["tags"]:
        assert 0 <= tag["start"] <= tag["end"] <= duration + 0.5
    assert tags["consent.disclosure"]["start"] < tags["objection.price"]["start"] \
        < tags["financing"]["start"] < tags["next_step"]["start"]

    # HQ got exactly the metadata of this conversation
    received = [json.loads(line) for line in hq_out.decode().splitlines() if line.strip()]
    assert len(received) == 1, hq_err.decode()
    envelope = received[0]
    body = envelope["body"]
    assert body["conversation_id"] == result.session_id
    assert body["badge_id"] == "badge-7" and body["rep_id"] == "rep-3"
    assert {t["tag"] for t in body["tags"]} == {t["tag"] for t in record["tags"]}

    # nothing but sealed metadata crossed the upstream link, even once HQ decrypts it
    assert capture.messages, "the upstream broker saw nothing"
    audio_bytes = record["audio_bytes"]
    hq_key = load_tenant_private_key(hq_dir / "tenant.key")
    signer = load_signer(data_dir / "keys" / "gateway-signing.pub")
    vocabulary = " ".join(tags) + " conversation_id started_at ended_at duration_s speech_s"
    spoken = {w.strip(".,?").lower() for s in record["segments"] for w in s["text"].split()}
    spoken = {w for w in spoken if len(w) > 5 and w not in vocabulary}
    assert spoken
    for topic, payload in capture.messages:
        assert topic == "salestag/v1/hq/gw-e2e/envelopes"
        assert len(payload) < 16 * 1024 < audio_bytes
        outer = json.loads(payload)
        assert set(outer) == {"ct", "hdr", "sig"}
        lowered = payload.lower()
        for word in (b"afford", b"financing", b"proposal", b"recorded"):
            assert word not in lowered
        clear = to_json(open_sealed(payload, recipient_private_key=hq_key,
                                    trusted_signers={signer.key_id: signer.public_key}))
        assert not {w for w in spoken if w in clear.decode().lower()}

    # the gateway reported the bad messages and carried on
    gateway_log = (tmp_path / "gateway.log").read_text()
    assert "rejected message" in gateway_log
