"""Bad input and attacks against the ingest (real SQLite, real encrypted spool, no broker):
each is refused and counted under its reason and badge, and a good session beside it is intact.
Plus Opus and Ogg/Opus decoding, two channels, the quotas, and fuzzing of the message path."""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.crypto.datakeys import KeyStore
from gateway.ingest.badge_sim import opus_audio, pcm16_audio
from gateway.ingest.codecs import OpusDecoder, read_ogg_opus
from gateway.ingest.mqtt import MqttIngest
from gateway.ingest.quotas import Admission, DiskWatermark, TokenBucket
from gateway.ingest.recorder import Recorder
from gateway.protocol.assembler import Assembler
from gateway.protocol.control import SessionStart, encode_control
from gateway.protocol.errors import ProtocolError
from gateway.protocol.frames import AudioFrame, Codec, encode_frame
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.jobs import JobQueue
from gateway.store.spool import AudioSpool

SITE = "store-7"
GOOD = "11111111111111111111111111111111"
OLD = "22222222222222222222222222222222"


def topic(badge: str, kind: str) -> str:
    return f"salestag/v1/{SITE}/badges/{badge}/{kind}"


@dataclass
class Rig:
    ingest: MqttIngest
    keys: KeyStore
    spool: AudioSpool
    conversations: Conversations

    def send(self, badge: str, kind: str, payload: bytes) -> str | None:
        """Handle a message as the MQTT callback does; returns the refusal reason, if any."""
        try:
            self.ingest.handle(topic(badge, kind), payload, time.time())
        except ProtocolError as exc:
            self.ingest._rejected(topic(badge, kind), exc.reason)
            return exc.reason
        return None

    def frames(self, badge: str, sid: str, payloads: list[bytes], codec: Codec = Codec.PCM16,
               channels: int = 1, first: int = 0, last: int | None = None
               ) -> list[str | None]:
        last = first + len(payloads) - 1 if last is None else last
        return [self.send(badge, "audio", encode_frame(AudioFrame(
            sid, seq, seq * 100, codec, 16000, channels, seq == last, payload)))
            for seq, payload in enumerate(payloads, start=first)]

    def audio(self, sid: str) -> bytes:
        self.ingest.send_acks()
        row = self.conversations.get(sid)
        key = self.keys.unwrap(row.wrapped_key or b"", context=sid.encode())
        return self.spool.read(sid, key)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    db = open_db(tmp_path / "gateway.db")
    keys = KeyStore.open_or_create(tmp_path / "kek.key")
    spool = AudioSpool(tmp_path / "spool")
    conversations = Conversations(db)
    recorder = Recorder(site=SITE, keys=keys, conversations=conversations, jobs=JobQueue(db),
                        spool=spool)
    admission = Admission(DiskWatermark(2**40, 90, 80, 0), rate_bytes_s=1e6,
                          burst_bytes=4e6, max_session_ms=60_000)
    ingest = MqttIngest(site=SITE, host="127.0.0.1", port=1, client_id="test",
                        assembler=Assembler(), recorder=recorder, admission=admission)
    yield Rig(ingest, keys, spool, conversations)
    recorder.close()
    db.close()


def header(**changes: int | bytes) -> bytes:
    fields: dict[str, int | bytes] = dict(magic=b"STAF", version=1, flags=0, codec=1,
                                          channels=1, rate=16000, sid=bytes.fromhex(GOOD),
                                          seq=0, ts=0, length=0)
    fields.update(changes)
    return struct.pack(">4sBBBBI16sIQI", *fields.values())


def test_attacks_are_refused_counted_and_harmless(rig: Rig) -> None:
    good = pcm16_audio(np.linspace(-0.5, 0.5, 16000), frame_ms=100).payloads
    assert rig.frames("badge-1", GOOD, good[:5], last=9) == [None] * 5
    # a whole session of another badge, finished, then replayed
    assert rig.frames("badge-2", OLD, good[:3]) == [None] * 3
    attacks = {
        "bad_magic": b"RIFF" + bytes(60),
        "length_mismatch": header(length=1000) + bytes(10),
        "too_large": header(length=200_000) + bytes(200_000),
        "unknown_codec": header(codec=9, length=2) + b"\0\0",
        "bad_payload": header(codec=2, length=4) + b"\x01abc",  # corrupt Opus
        "truncated": b"STAF\x01",
        "bad_version": header(version=7),
    }
    for reason, payload in attacks.items():
        assert rig.send("badge-2", "audio", payload) == reason
    assert rig.frames("badge-2", OLD, good[:3]) == ["replay"] * 3
    assert rig.send("badge-2", "control", b'{"v":1,"type":"session_start"}') == "bad_field"
    assert rig.send("badge-2", "control", b"\xff\xfe") == "bad_json"
    assert rig.send("badge-2", "control", encode_control(SessionStart(OLD, "r", 1.0))) \
        == "replay"
    # a badge cannot reach into another badge's session: same id, separate session
    assert rig.frames("badge-2", GOOD, [good[9]], first=9)[0] is None
    assert rig.frames("badge-1", GOOD, good[5:], first=5) == [None] * 5
    assert rig.audio(GOOD) == b"".join(good)
    stats = rig.ingest.stats
    assert stats.rejected["replay"] == 4 and stats.rejected["bad_magic"] == 1
    assert stats.rejected_by_badge["badge-2"] == 13 and stats.rejected_by_badge["badge-1"] == 0
    health = {h.badge_id: h for h in rig.ingest.health()}
    assert health["badge-1"].frames == 10 and health["badge-1"].rejected == 0
    assert health["badge-2"].rejected == 13


def test_opus_two_channels_is_decoded_to_16k_pcm(rig: Rig) -> None:
    t = np.arange(16000) / 16000
    audio = opus_audio(0.4 * np.sin(2 * np.pi * 440 * t), channels=2)
    sid = "33333333333333333333333333333333"
    assert rig.frames("badge-1", sid, audio.payloads, Codec.OPUS, 2) == [None] * 50
    pcm = np.frombuffer(rig.audio(sid), "<i2").reshape(-1, 2)
    assert pcm.shape[0] == 16000  # 1 s at 16 kHz, both channels interleaved
    assert 0.25 < np.abs(pcm[4000:, 0]).max() / 32768 < 0.5
    assert abs(np.abs(pcm[4000:, 1]).max() / np.abs(pcm[4000:, 0]).max() - 0.5) < 0.1
    row = rig.conversations.get(sid)
    assert (row.codec, row.sample_rate, row.channels) == (Codec.PCM16, 16000, 2)


def test_ogg_opus_files_are_sent_packet_by_packet(tmp_path: Path) -> None:
    path = tmp_path / "tone.opus"
    t = np.arange(48000) / 48000
    soundfile.write(str(path), 0.3 * np.sin(2 * np.pi * 300 * t), 48000, format="OGG",
                    subtype="OPUS")
    ogg = read_ogg_opus(path)
    assert ogg.channels == 1 and len(ogg.packets) >= 50
    decoder = OpusDecoder(1)
    pcm = b"".join(decoder.decode(p) for p in ogg.packets)
    assert len(pcm) // 2 >= 16000
    wav = tmp_path / "x.wav"
    soundfile.write(str(wav), t, 48000)
    with pytest.raises(ProtocolError):
        read_ogg_opus(wav)


def test_quotas() -> None:
    disk = DiskWatermark(1000, 90, 80, 10)
    assert not disk.update(850, 100)
    assert disk.update(900, 100)  # high mark
    assert disk.update(850, 100)  # still above the low mark
    assert not disk.update(800, 100)
    assert disk.update(0, 5)  # the disk itself is nearly full
    bucket = TokenBucket(rate=100, burst=200)
    assert bucket.take(200, 0.0) and not bucket.take(1, 0.0) and bucket.take(100, 1.0)
    admission = Admission(DiskWatermark(1000, 90, 80, 0), 1e9, 1e9, max_session_ms=1000)
    assert admission.frame("b", 10, 1001, 0.0) == "session_too_long"
    admission.observe_disk(1000, 10**9)
    assert admission.new_session() == "disk_full" and admission.frame("b", 1, 0, 0.0) \
        == "disk_full"


def test_rate_limited_frames_are_refused_not_lost(rig: Rig) -> None:
    assert rig.ingest.admission is not None
    rig.ingest.admission.burst_bytes = rig.ingest.admission.rate_bytes_s = 5000
    payloads = pcm16_audio(np.zeros(16000), frame_ms=100).payloads  # 3200 B each
    sid = "44444444444444444444444444444444"
    results = rig.frames("badge-9", sid, payloads[:3])
    assert results[0] is None and "rate_limited" in results
    rig.ingest.admission._buckets.clear()
    assert rig.ingest.assembler.settled_seq("badge-9", sid) == 0  # only frame 0 taken


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["audio", "control", "status"]), st.binary(max_size=120))
def test_fuzz_message_path(rig: Rig, kind: str, payload: bytes) -> None:
    rig.send("badge-f", kind, b"STAF\x01" + payload if kind == "audio" else payload)
