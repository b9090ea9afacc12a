"""A badge simulator that speaks protocol v1 exactly as badge firmware does.

It connects (over TLS with its pairing bundle, or plain on the box itself), announces itself
online with a retained offline last-will, starts a session, streams PCM16 or Opus frames with
QoS 1 in real time or as fast as the broker takes them, and marks the last frame final. Like a
real badge it keeps every frame until the gateway acks it, and sends the unacked ones again after
a reconnect, when the gateway comes back online, or when acks stall.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.errors import GatewayError
from gateway.ingest.codecs import encode_opus, read_ogg_opus
from gateway.mqtt_socket import send_without_delay
from gateway.protocol.acks import Ack, parse_ack
from gateway.protocol.control import (
    BadgeStatus,
    OptOut,
    SessionStart,
    encode_control,
    encode_status,
    parse_status,
)
from gateway.protocol.errors import ProtocolError
from gateway.protocol.frames import AudioFrame, Codec, encode_frame
from gateway.protocol.opus import packet_duration_ms
from gateway.protocol.topics import TopicKind, badge_topic, gateway_status_topic

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000


class BadgeSimError(GatewayError):
    """The simulated badge could not deliver its session."""


class SessionRefused(BadgeSimError):
    """The gateway refused the session (``ack.reason`` says why); the badge keeps the audio."""

    def __init__(self, ack: Ack) -> None:
        super().__init__(f"the gateway refused session {ack.session_id}: {ack.reason}")
        self.ack = ack


@dataclass(frozen=True)
class SimResult:
    session_id: str
    frames: int
    seconds: float
    resent: int = 0


@dataclass(frozen=True)
class TlsBundle:
    """A pairing bundle's files: the badge's certificate and key, and the gateway's CA."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def from_dir(cls, directory: Path) -> TlsBundle:
        return cls(directory / "ca.crt", directory / "badge.crt", directory / "badge.key")


@dataclass(frozen=True)
class BadgeAudio:
    """A recording cut into frame payloads, as a badge would send it."""

    codec: Codec
    sample_rate: int
    channels: int
    payloads: list[bytes]
    frame_ms: list[float]


def pcm16_frames(samples: np.ndarray, frame_ms: int, channels: int = 1) -> list[bytes]:
    """Cut float samples in [-1, 1] (``(n,)`` or ``(n, channels)``) into PCM16 LE frames."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()
    size = SAMPLE_RATE * frame_ms // 1000 * 2 * channels
    return [pcm[i:i + size] for i in range(0, len(pcm), size)] or [b""]


def _interleaved(samples: np.ndarray, channels: int) -> np.ndarray:
    """Mono input duplicated (with a customer channel at half level) when two are wanted."""
    if samples.ndim == 2:
        return samples if samples.shape[1] == channels else samples.mean(axis=1)
    if channels == 1:
        return samples
    return np.stack([samples, samples * 0.5], axis=1)


def pcm16_audio(samples: np.ndarray, *, frame_ms: int = 100, channels: int = 1) -> BadgeAudio:
    payloads = pcm16_frames(_interleaved(samples, channels), frame_ms, channels)
    return BadgeAudio(Codec.PCM16, SAMPLE_RATE, channels, payloads, [frame_ms] * len(payloads))


def opus_audio(samples: np.ndarray, *, frame_ms: int = 20, channels: int = 1) -> BadgeAudio:
    """16 kHz samples encoded to Opus packets, one per frame."""
    pcm = (np.clip(_interleaved(samples, channels), -1.0, 1.0) * 32767).astype("<i2").tobytes()
    packets = encode_opus(pcm, SAMPLE_RATE, channels, frame_ms)
    return BadgeAudio(Codec.OPUS, SAMPLE_RATE, channels, packets, [frame_ms] * len(packets))


def ogg_opus_audio(path: Path) -> BadgeAudio:
    """The packets of an Ogg/Opus file, sent as they are (no re-encoding)."""
    ogg = read_ogg_opus(path)
    rate = min(max(ogg.input_rate or 48000, 8000), 48000)
    return BadgeAudio(Codec.OPUS, rate, ogg.channels, ogg.packets,
                      [packet_duration_ms(p) for p in ogg.packets])


@dataclass(frozen=True)
class Progress:
    """How far a session in progress has got: frames sent, and the highest ``seq`` up to which
    the gateway acked every frame as stored (None before its first ack)."""

    sent: int
    acked_seq: int | None


@dataclass
class _Outgoing:
    """A session's start message and its frames not yet acked."""

    start: bytes
    frames: OrderedDict[int, bytes] = field(default_factory=OrderedDict)
    sent: int = 0
    ack: Ack | None = None
    progress_at: float = field(default_factory=time.monotonic)


class BadgeSimulator:
    """One simulated badge connected to a broker."""

    def __init__(self, *, host: str, port: int, site: str, badge_id: str,
                 ack_timeout_s: float = 10.0, tls: TlsBundle | None = None,
                 resend_after_s: float = 5.0, battery_pct: int | None = None,
                 rssi_dbm: int | None = None) -> None:
        self.site = site
        self.badge_id = badge_id
        self.ack_timeout_s = ack_timeout_s
        self.resend_after_s = resend_after_s
        self.resent = 0
        self.refusals: list[Ack] = []
        self.online_status = BadgeStatus(state="online", battery_pct=battery_pct,
                                         rssi_dbm=rssi_dbm)
        self._lock = threading.Condition()
        self._sessions: dict[str, _Outgoing] = {}
        self._connected_once = False
        self._gateway_seen_offline = False
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"badge-{badge_id}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if tls is not None:
            self.client.tls_set(ca_certs=str(tls.ca), certfile=str(tls.cert),
                                keyfile=str(tls.key))
        self.client.will_set(self._topic(TopicKind.STATUS),
                             encode_status(BadgeStatus(state="offline")), qos=1, retain=True)
        self.client.max_inflight_messages_set(64)
        self.client.reconnect_delay_set(1, 2)
        self.gateway_online = threading.Event()
        self.connected = threading.Event()
        self.client.message_callback_add(gateway_status_topic(site), self._on_gateway_status)
        self.client.message_callback_add(self._topic(TopicKind.ACK), self._on_ack)
        send_without_delay(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        try:
            self.client.connect(host, port, keepalive=30)
        except OSError as exc:  # ssl.SSLError is an OSError too
            raise BadgeSimError(f"cannot connect to {host}:{port}: {exc}") from exc
        self.client.loop_start()
        if not self.connected.wait(ack_timeout_s):
            self.client.loop_stop()
            raise BadgeSimError(f"broker {host}:{port} did not accept badge {badge_id}")

    def _topic(self, kind: TopicKind) -> str:
        return badge_topic(self.site, self.badge_id, kind)

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                    reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.error("broker refused badge %s: %s", self.badge_id, reason)
            return
        client.subscribe([(self._topic(TopicKind.ACK), 1), (gateway_status_topic(self.site), 1)])
        client.publish(self._topic(TopicKind.STATUS), encode_status(self.online_status),
                       qos=1, retain=True)
        if self._connected_once:
            self.resend_all("reconnect")
        self._connected_once = True
        self.connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object,
                       flags: mqtt.DisconnectFlags, reason: ReasonCode,
                       properties: Properties | None) -> None:
        self.connected.clear()

    def _on_gateway_status(self, client: mqtt.Client, userdata: object,
                           message: mqtt.MQTTMessage) -> None:
        try:
            online = bool(message.payload) and parse_status(bytes(message.payload)).state \
                == "online"
        except ProtocolError:
            return
        if online:
            self.gateway_online.set()
            if self._gateway_seen_offline:
                self._gateway_seen_offline = False
                self.resend_all("gateway restart")
        else:
            self.gateway_online.clear()
            self._gateway_seen_offline = True

    def _on_ack(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        try:
            ack = parse_ack(bytes(message.payload))
        except ProtocolError:
            log.warning("badge %s got a malformed ack", self.badge_id)
            return
        with self._lock:
            out = self._sessions.get(ack.session_id)
            if out is None:
                return
            if ack.status == "refused":
                self.refusals.append(ack)
            out.ack = ack
            if ack.status in ("finished", "opted_out"):
                out.frames.clear()
            elif ack.seq is not None:
                while out.frames and next(iter(out.frames)) <= ack.seq:
                    out.frames.popitem(last=False)
                    out.progress_at = time.monotonic()
            self._lock.notify_all()

    def wait_for_gateway(self, timeout_s: float) -> None:
        """Block until the site's gateway announces itself online, as a badge does at power-up."""
        if not self.gateway_online.wait(timeout_s):
            raise BadgeSimError(f"the gateway of site {self.site} is not online "
                                f"after {timeout_s:.0f} s")

    def _publish(self, kind: TopicKind, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self.client.publish(self._topic(kind), payload, qos=1)

    def resend_all(self, why: str) -> None:
        """Send every session's start and unacked frames again."""
        with self._lock:
            pending = [(out.start, list(out.frames.values())) for out in self._sessions.values()
                       if out.frames]
        for start, frames in pending:
            log.info("badge %s resends %d frames (%s)", self.badge_id, len(frames), why)
            self._publish(TopicKind.CONTROL, start)
            for data in frames:
                self._publish(TopicKind.AUDIO, data)
            self.resent += len(frames)

    def stream(self, samples: np.ndarray, *, rep_id: str, realtime: bool = True,
               frame_ms: int = 100, session_id: str | None = None, codec: str = "pcm16",
               channels: int = 1) -> SimResult:
        """Stream one session of 16 kHz audio; returns when the gateway acked all of it."""
        audio = (opus_audio(samples, channels=channels) if codec == "opus"
                 else pcm16_audio(samples, frame_ms=frame_ms, channels=channels))
        return self.stream_audio(audio, rep_id=rep_id, realtime=realtime, session_id=session_id)

    def stream_audio(self, audio: BadgeAudio, *, rep_id: str, realtime: bool = True,
                     session_id: str | None = None, wait_acked_s: float = 120.0) -> SimResult:
        """Stream prepared frames; returns when the gateway acked all of them."""
        session_id = session_id or uuid.uuid4().hex
        started = time.time()
        start = encode_control(SessionStart(
            session_id=session_id, rep_id=rep_id, started_at=started, codec=audio.codec,
            sample_rate=audio.sample_rate, channels=audio.channels))
        out = _Outgoing(start)
        with self._lock:
            self._sessions[session_id] = out
        self._publish(TopicKind.CONTROL, start)
        clock, offset_ms = time.monotonic(), 0.0
        last = len(audio.payloads) - 1
        for seq, payload in enumerate(audio.payloads):
            if realtime:
                delay = clock + offset_ms / 1000 - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            if out.ack is not None and out.ack.status == "opted_out":
                break  # the customer opted out: stop recording, keep nothing
            data = encode_frame(AudioFrame(
                session_id=session_id, seq=seq, timestamp_ms=int(offset_ms),
                codec=audio.codec, sample_rate=audio.sample_rate, channels=audio.channels,
                final=seq == last, payload=payload))
            with self._lock:
                out.frames[seq] = data
                out.sent += 1
            self._publish(TopicKind.AUDIO, data)
            offset_ms += audio.frame_ms[seq]
        self._wait_acked(out, wait_acked_s)
        with self._lock:
            del self._sessions[session_id]
        return SimResult(session_id, len(audio.payloads), time.time() - started, self.resent)

    def progress(self, session_id: str) -> Progress | None:
        """How far a session being streamed has got; None before it starts and after it ends."""
        with self._lock:
            out = self._sessions.get(session_id)
            if out is None:
                return None
            return Progress(out.sent, out.ack.seq if out.ack is not None else None)

    def opt_out(self, session_id: str) -> None:
        """Press the customer opt-out button during a session."""
        self._publish(TopicKind.CONTROL, encode_control(OptOut(session_id, at=time.time())))

    def _wait_acked(self, out: _Outgoing, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while out.frames or out.ack is None:
                now = time.monotonic()
                if out.ack is not None and out.ack.status == "refused":
                    raise SessionRefused(out.ack)
                if now >= deadline:
                    raise BadgeSimError(f"the gateway acked {out.ack} but {len(out.frames)} "
                                        f"frames remain after {timeout_s:.0f} s")
                if out.ack is not None and out.ack.status in ("finished", "opted_out"):
                    return
                if now - out.progress_at >= self.resend_after_s:
                    out.progress_at = now
                    self._lock.release()
                    try:
                        self.resend_all("acks stalled")
                    finally:
                        self._lock.acquire()
                self._lock.wait(0.1)

    def close(self) -> None:
        info = self.client.publish(self._topic(TopicKind.STATUS),
                                   encode_status(BadgeStatus(state="offline")), qos=1, retain=True)
        info.wait_for_publish(self.ack_timeout_s)
        self.client.disconnect()
        self.client.loop_stop()
