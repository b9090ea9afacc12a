"""Faults with real processes: the gateway killed with SIGKILL mid-session, Mosquitto restarted
mid-session, and the disk quota's high watermark. Each time the badge resends what was not
acked and the stored audio is exactly what the badge recorded: nothing lost, nothing twice."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for
from ingest_kit import Gateway, make_gateway

from gateway.ingest.badge_sim import SessionRefused, SimResult, pcm16_audio

pytestmark = pytest.mark.slow


def recording(seconds: float, seed: int = 1) -> np.ndarray:
    """Deterministic audio: a tone with noise, different in every frame."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    return (0.3 * np.sin(2 * np.pi * 330 * t) + 0.05 * rng.standard_normal(t.size)).clip(-1, 1)


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    gw = make_gateway(tmp_path / "gw")
    yield gw
    gw.close()


class Streaming(threading.Thread):
    """A badge streaming one session in real time in the background."""

    def __init__(self, gateway: Gateway, badge_id: str, seconds: float) -> None:
        super().__init__(daemon=True)
        self.badge = gateway.badge(badge_id, gateway.pair(badge_id), resend_after_s=3.0)
        self.badge.wait_for_gateway(20)
        self.audio = pcm16_audio(recording(seconds), frame_ms=100)
        self.session_id = uuid.uuid4().hex
        self.result: SimResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.badge.stream_audio(self.audio, rep_id="rep-1", wait_acked_s=60,
                                                  session_id=self.session_id)
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_stored(self, frames: int) -> None:
        """Wait until the gateway acked the session's first ``frames`` frames as stored."""
        def stored() -> bool:
            progress = self.badge.progress(self.session_id)
            return bool(progress and progress.acked_seq is not None
                        and progress.acked_seq + 1 >= frames)

        wait_for(stored, 30, f"the gateway to store {frames} frames")

    def wait_sent_more(self, frames: int) -> None:
        """Wait until the badge sent ``frames`` more frames than it has now."""
        def sent() -> int:
            progress = self.badge.progress(self.session_id)
            assert progress is not None, "the session ended"
            return progress.sent

        target = sent() + frames
        wait_for(lambda: sent() >= target, 30, f"the badge to send {frames} more frames")

    def finish(self) -> SimResult:
        self.join(90)
        self.badge.close()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def assert_complete(gateway: Gateway, stream: Streaming, result: SimResult) -> None:
    assert gateway.spooled(result.session_id) == b"".join(stream.audio.payloads)
    row = gateway.conversation(result.session_id)
    assert row["frames"] == result.frames and row["gaps"] == 0, row
    assert row["status"] == "queued" and row["finish_reason"] == "final", row


def test_gateway_killed_mid_session_loses_and_duplicates_nothing(gateway: Gateway) -> None:
    gateway.start_broker()
    gateway.start_ingest()
    stream = Streaming(gateway, "badge-1", 4.0)
    stream.start()
    stream.wait_stored(10)  # a second of audio is stored and acked
    gateway.kill_ingest()
    stream.wait_sent_more(5)  # frames keep coming: the broker queues them for the gateway
    gateway.start_ingest()
    result = stream.finish()
    assert_complete(gateway, stream, result)
    assert "resumed 1 receptions" in gateway.log()


def test_broker_restarted_mid_session_loses_and_duplicates_nothing(gateway: Gateway) -> None:
    gateway.start_broker()
    gateway.start_ingest()
    stream = Streaming(gateway, "badge-1", 4.0)
    stream.start()
    stream.wait_stored(10)
    gateway.stop_broker()
    stream.wait_sent_more(5)  # the badge records on while its broker is away
    gateway.start_broker()
    result = stream.finish()
    assert_complete(gateway, stream, result)
    assert result.resent > 0


def test_high_watermark_refuses_new_sessions_and_keeps_existing_data(tmp_path: Path) -> None:
    gateway = make_gateway(tmp_path / "gw", "spool_quota_mb = 1\nhigh_watermark_pct = 50\n"
                                            "low_watermark_pct = 40\nmin_free_mb = 0\n")
    try:
        gateway.start_broker()
        gateway.start_ingest()
        badge = gateway.badge("badge-1", gateway.pair("badge-1"))
        badge.wait_for_gateway(20)
        first = pcm16_audio(recording(20.0), frame_ms=100)  # 640 kB: crosses the high mark
        kept = badge.stream_audio(first, rep_id="rep-1", realtime=False)
        with pytest.raises(SessionRefused) as refused:
            badge.stream_audio(pcm16_audio(recording(1.0, seed=2)), rep_id="rep-1",
                               realtime=False, wait_acked_s=20)
        assert refused.value.ack.reason == "disk_full" and refused.value.ack.seq is None
        assert (refused.value.ack.retry_after_s or 0) > 0
        badge.close()
        assert gateway.spooled(kept.session_id) == b"".join(first.payloads)
        wait_for(lambda: len(list((gateway.root / "data" / "spool").iterdir())) == 1,
                 what="only the first session on disk")
    finally:
        gateway.close()
