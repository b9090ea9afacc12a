"""A badge simulator that speaks protocol v1 exactly as badge firmware does.

It announces itself online (with a retained offline last-will), starts a session, streams PCM16
frames with QoS 1 in real time or as fast as the broker acknowledges, and marks the last frame
final.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.errors import GatewayError
from gateway.protocol.control import (
    BadgeStatus,
    SessionStart,
    encode_control,
    encode_status,
    parse_status,
)
from gateway.protocol.frames import AudioFrame, Codec, encode_frame
from gateway.protocol.topics import TopicKind, badge_topic, gateway_status_topic

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


class BadgeSimError(GatewayError):
    """The simulated badge could not deliver its session."""


@dataclass(frozen=True)
class SimResult:
    session_id: str
    frames: int
    seconds: float


def pcm16_frames(samples: np.ndarray, frame_ms: int) -> list[bytes]:
    """Cut float samples in [-1, 1] into PCM16 little-endian frames of ``frame_ms``."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    size = SAMPLE_RATE * frame_ms // 1000 * 2
    return [pcm[i:i + size] for i in range(0, len(pcm), size)] or [b""]


class BadgeSimulator:
    """One simulated badge connected to a broker."""

    def __init__(self, *, host: str, port: int, site: str, badge_id: str,
                 ack_timeout_s: float = 10.0) -> None:
        self.site = site
        self.badge_id = badge_id
        self.ack_timeout_s = ack_timeout_s
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"badge-{badge_id}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        status_topic = badge_topic(site, badge_id, TopicKind.STATUS)
        self.client.will_set(status_topic, encode_status(BadgeStatus(state="offline")),
                             qos=1, retain=True)
        self.client.max_inflight_messages_set(64)
        self.gateway_online = threading.Event()
        self.client.message_callback_add(gateway_status_topic(site), self._on_gateway_status)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        self._publish(TopicKind.STATUS, encode_status(BadgeStatus(state="online")), retain=True)

    def _on_gateway_status(self, client: mqtt.Client, userdata: object,
                           message: mqtt.MQTTMessage) -> None:
        if message.payload and parse_status(bytes(message.payload)).state == "online":
            self.gateway_online.set()
        else:
            self.gateway_online.clear()

    def wait_for_gateway(self, timeout_s: float) -> None:
        """Block until the site's gateway announces itself online, as a badge does at power-up."""
        self.client.subscribe(gateway_status_topic(self.site), qos=1)
        if not self.gateway_online.wait(timeout_s):
            raise BadgeSimError(f"the gateway of site {self.site} is not online "
                                f"after {timeout_s:.0f} s")

    def _publish(self, kind: TopicKind, payload: bytes, *, retain: bool = False,
                 wait: bool = True) -> mqtt.MQTTMessageInfo:
        info = self.client.publish(badge_topic(self.site, self.badge_id, kind), payload,
                                   qos=1, retain=retain)
        if wait:
            info.wait_for_publish(self.ack_timeout_s)
            if not info.is_published():
                raise BadgeSimError(f"broker did not acknowledge a {kind} message")
        return info

    def stream(self, samples: np.ndarray, *, rep_id: str, realtime: bool = True,
               frame_ms: int = 100, session_id: str | None = None) -> SimResult:
        """Stream one session of 16 kHz mono audio; returns when every frame is acknowledged."""
        session_id = session_id or uuid.uuid4().hex
        started = time.time()
        self._publish(TopicKind.CONTROL, encode_control(SessionStart(
            session_id=session_id, rep_id=rep_id, started_at=started)))
        frames = pcm16_frames(samples, frame_ms)
        pending: list[mqtt.MQTTMessageInfo] = []
        clock = time.monotonic()
        for seq, payload in enumerate(frames):
            if realtime:
                delay = clock + seq * frame_ms / 1000 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            frame = AudioFrame(session_id=session_id, seq=seq, timestamp_ms=seq * frame_ms,
                               codec=Codec.PCM16, sample_rate=SAMPLE_RATE, channels=1,
                               final=seq == len(frames) - 1, payload=payload)
            pending.append(self._publish(TopicKind.AUDIO, encode_frame(frame), wait=False))
        for info in pending:
            info.wait_for_publish(self.ack_timeout_s)
            if not info.is_published():
                raise BadgeSimError("broker did not acknowledge every audio frame")
        return SimResult(session_id, len(frames), time.time() - started)

    def close(self) -> None:
        self._publish(TopicKind.STATUS, encode_status(BadgeStatus(state="offline")), retain=True)
        self.client.disconnect()
        self.client.loop_stop()
