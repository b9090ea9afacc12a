"""The MQTT adapter: badge messages from the local broker into the assembler and the recorder.

One thread owns the paho client, the assembler and the recorder, so none of them needs a lock.
Bad input is counted by reason and logged without its content; other sessions carry on.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.ingest.recorder import Recorder
from gateway.protocol.assembler import Assembler
from gateway.protocol.control import (
    BadgeStatus,
    SessionStart,
    encode_status,
    parse_control,
    parse_status,
)
from gateway.protocol.errors import ProtocolError
from gateway.protocol.frames import decode_frame
from gateway.protocol.topics import TopicKind, gateway_status_topic, parse_topic, subscription
from gateway.store.errors import StoreError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024
ONLINE = encode_status(BadgeStatus(state="online"))
OFFLINE = encode_status(BadgeStatus(state="offline"))


@dataclass
class IngestStats:
    """Counters for health and metrics."""

    messages: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    badges: dict[str, BadgeStatus] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)
    connected: bool = False


class MqttIngest:
    """Subscribes to every badge of the site and feeds the assembler."""

    def __init__(self, *, site: str, host: str, port: int, client_id: str,
                 assembler: Assembler, recorder: Recorder, expire_every_s: float = 1.0) -> None:
        self.site = site
        self.host = host
        self.port = port
        self.assembler = assembler
        self.recorder = recorder
        self.expire_every_s = expire_every_s
        self.stats = IngestStats()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.will_set(gateway_status_topic(site), OFFLINE, qos=1, retain=True)

    def run(self, stop: threading.Event) -> None:
        """Connect, then pump messages and expire idle sessions until ``stop`` is set."""
        backoff = 0.5
        next_expiry = time.monotonic() + self.expire_every_s
        while not stop.is_set():
            if not self.client.is_connected():
                try:
                    self._connect()
                    backoff = 0.5
                except OSError as exc:
                    log.warning("local broker %s:%d unreachable (%s); retrying in %.1f s",
                                self.host, self.port, exc, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    continue
            self.client.loop(timeout=0.2)
            if time.monotonic() >= next_expiry:
                self.recorder.handle(self.assembler.expire(time.time()))
                next_expiry = time.monotonic() + self.expire_every_s
        if self.client.is_connected():
            self.client.publish(gateway_status_topic(self.site), OFFLINE, qos=1, retain=True)
            self.client.loop(timeout=0.5)
        self.client.disconnect()
        self.recorder.close()

    def _connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 3600
        self.client.connect(self.host, self.port, keepalive=30, clean_start=False,
                            properties=props)
        deadline = time.monotonic() + 5
        while not self.stats.connected and time.monotonic() < deadline:
            self.client.loop(timeout=0.1)
        if not self.stats.connected:
            self.client.disconnect()
            raise OSError("no CONNACK")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: mqtt.ConnectFlags,
                     reason: ReasonCode, properties: Properties | None) -> None:
        if reason.is_failure:
            log.error("local broker refused the gateway: %s", reason)
            return
        self.stats.connected = True
        client.subscribe([(topic, 1) for topic in subscription(self.site)])
        log.info("connected to local broker %s:%d", self.host, self.port)

    def _on_subscribe(self, client: mqtt.Client, userdata: object, mid: int,
                      reason_codes: list[ReasonCode], properties: Properties | None) -> None:
        failed = [code for code in reason_codes if code.is_failure]
        if failed:
            log.error("local broker refused a badge subscription: %s", failed[0])
            return
        client.publish(gateway_status_topic(self.site), ONLINE, qos=1, retain=True)

    def _on_disconnect(self, client: mqtt.Client, userdata: object,
                       flags: mqtt.DisconnectFlags, reason: ReasonCode,
                       properties: Properties | None) -> None:
        self.stats.connected = False
        log.warning("disconnected from local broker: %s", reason)

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        self.stats.messages += 1
        try:
            self.handle(message.topic, bytes(message.payload), time.time())
        except ProtocolError as exc:
            self.stats.rejected[exc.reason] += 1
            log.warning("rejected message on %s: %s", message.topic, exc)
        except StoreError as exc:
            self.stats.rejected["store"] += 1
            log.error("could not store message on %s: %s", message.topic, exc)

    def handle(self, topic: str, payload: bytes, now: float) -> None:
        """Dispatch one badge message; raises ProtocolError for bad input."""
        badge = parse_topic(topic)
        if badge.site != self.site:
            return
        self.stats.last_seen[badge.badge_id] = now
        if len(payload) > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"message of {len(payload)} bytes is too large",
                                reason="too_large")
        if badge.kind is TopicKind.AUDIO:
            self.recorder.handle(self.assembler.add(badge.badge_id, decode_frame(payload), now))
        elif badge.kind is TopicKind.CONTROL:
            msg = parse_control(payload)
            if isinstance(msg, SessionStart):
                events = self.assembler.start(badge.badge_id, msg, now)
            else:
                events = self.assembler.stop(badge.badge_id, msg, now)
            self.recorder.handle(events)
        elif badge.kind is TopicKind.STATUS:
            if payload:
                self.stats.badges[badge.badge_id] = parse_status(payload)
