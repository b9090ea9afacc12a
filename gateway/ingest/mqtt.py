"""The MQTT adapter: badge messages from the local broker into the assembler and the recorder.

One thread owns the paho client, the assembler and the recorder, so none of them needs a lock.
Bad input is counted by reason and badge and logged without its content; other sessions carry
on. Every ``ack_interval_s`` the recorder makes what it appended durable, then each session that
sent something gets an ack (protocol section 9) with the highest seq it may forget.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.ingest.health import BadgeHealth
from gateway.ingest.quotas import Admission
from gateway.ingest.recorder import Recorder
from gateway.mqtt_socket import send_without_delay
from gateway.protocol.acks import Ack, RefusalReason, encode_ack
from gateway.protocol.assembler import Assembler
from gateway.protocol.control import (
    BadgeStatus,
    ConsentMessage,
    OptOut,
    SessionStart,
    SessionStop,
    encode_status,
    parse_control,
    parse_status,
)
from gateway.protocol.errors import ProtocolError
from gateway.protocol.frames import decode_frame
from gateway.protocol.topics import (
    TopicKind,
    badge_topic,
    gateway_status_topic,
    parse_topic,
    subscription,
)
from gateway.store.errors import StoreError

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 128 * 1024
ONLINE = encode_status(BadgeStatus(state="online"))
OFFLINE = encode_status(BadgeStatus(state="offline"))
RETRY_AFTER_S = {"disk_full": 60, "rate_limited": 2, "session_too_long": 0}
DISK_CHECK_S = 5.0
HEALTH_SAVE_S = 5.0

_Key = tuple[str, str]  # (badge_id, session_id)


@dataclass
class IngestStats:
    """Counters for health and metrics."""

    messages: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    badges: dict[str, BadgeStatus] = field(default_factory=dict)
    last_seen: dict[str, float] = field(default_factory=dict)
    connected: bool = False
    rejected_by_badge: Counter[str] = field(default_factory=Counter)
    acks: int = 0


class MqttIngest:
    """Subscribes to every badge of the site, feeds the assembler and acks what is stored."""

    def __init__(self, *, site: str, host: str, port: int, client_id: str,
                 assembler: Assembler, recorder: Recorder, expire_every_s: float = 1.0,
                 username: str | None = None, password: str | None = None,
                 admission: Admission | None = None, ack_interval_s: float = 0.05,
                 on_health: Callable[[list[BadgeHealth]], None] | None = None,
                 on_consent: Callable[[str, ConsentMessage, float], None] | None = None
                 ) -> None:
        self.site = site
        self.host = host
        self.port = port
        self.assembler = assembler
        self.recorder = recorder
        self.expire_every_s = expire_every_s
        self.admission = admission
        self.ack_interval_s = ack_interval_s
        self.on_health = on_health
        self.on_consent = on_consent
        self._opted_out: dict[_Key, None] = {}  # recent opted-out sessions, oldest first
        self.stats = IngestStats()
        self._ack_due: dict[_Key, RefusalReason | None] = {}
        self._written = 0
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                                  protocol=MQTTProtocolVersion.MQTTv5)
        if username:
            self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(1000)
        send_without_delay(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.client.will_set(gateway_status_topic(site), OFFLINE, qos=1, retain=True)

    def run(self, stop: threading.Event) -> None:
        """Connect, then pump messages, ack, and expire idle sessions until ``stop`` is set."""
        backoff = 0.5
        clock = time.monotonic()
        next_expiry, next_ack = clock + self.expire_every_s, clock + self.ack_interval_s
        next_disk = next_health = clock
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
            self.client.loop(timeout=min(0.2, self.ack_interval_s))
            clock = time.monotonic()
            if clock >= next_ack:
                self.send_acks()
                # under load a flush (one fsync per busy session) takes longer: wait at least
                # twice as long as it took, so flushing never takes more than a third of the time
                took = time.monotonic() - clock
                next_ack = clock + max(self.ack_interval_s, 3 * took)
            if clock >= next_expiry:
                self.recorder.handle(self.assembler.expire(time.time()))
                next_expiry = clock + self.expire_every_s
            if clock >= next_disk:
                self._observe_disk()
                next_disk = clock + DISK_CHECK_S
            if clock >= next_health and self.on_health is not None:
                self.on_health(self.health())
                next_health = clock + HEALTH_SAVE_S
        self.recorder.close()
        if self.client.is_connected():
            self.send_acks()
            self.client.publish(gateway_status_topic(self.site), OFFLINE, qos=1, retain=True)
            self.client.loop(timeout=0.5)
        self.client.disconnect()
        if self.on_health is not None:
            self.on_health(self.health())

    def _observe_disk(self) -> None:
        if self.admission is None:
            return
        spool = self.recorder.spool
        self.admission.observe_disk(spool.usage_bytes(),
                                    shutil.disk_usage(spool.directory).free)
        self._written = self.recorder.written_bytes

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
            self._rejected(message.topic, exc.reason)
            log.warning("rejected message on %s: %s", message.topic, exc)
        except StoreError as exc:
            self._rejected(message.topic, "store")
            log.error("could not store message on %s: %s", message.topic, exc)

    def _rejected(self, topic: str, reason: str) -> None:
        self.stats.rejected[reason] += 1
        try:
            self.stats.rejected_by_badge[parse_topic(topic).badge_id] += 1
        except ProtocolError:
            pass

    def handle(self, topic: str, payload: bytes, now: float) -> None:
        """Dispatch one badge message; raises ProtocolError for bad input."""
        badge = parse_topic(topic)
        if badge.site != self.site:
            return
        badge_id = badge.badge_id
        self.stats.last_seen[badge_id] = now
        if len(payload) > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"message of {len(payload)} bytes is too large",
                                reason="too_large")
        if badge.kind is TopicKind.AUDIO:
            frame = decode_frame(payload)
            key = (badge_id, frame.session_id)
            if key in self._opted_out:
                return  # frames still in flight after an opt-out: dropped unseen
            self._ack_due.setdefault(key, None)
            if self.admission is not None:
                self._admit(self.admission, key, len(payload), frame.timestamp_ms, now)
            self.recorder.handle(self.assembler.add(badge_id, frame, now))
        elif badge.kind is TopicKind.CONTROL:
            msg = parse_control(payload)
            key = (badge_id, msg.session_id)
            if not isinstance(msg, SessionStart | SessionStop):
                self._consent(badge_id, msg, now)
                return
            if key in self._opted_out:
                return
            self._ack_due.setdefault(key, None)
            if isinstance(msg, SessionStart):
                if self.admission is not None and self.assembler.state(*key) is None:
                    self._refuse_if(key, self.admission.new_session())
                events = self.assembler.start(badge_id, msg, now)
            else:
                events = self.assembler.stop(badge_id, msg, now)
            self.recorder.handle(events)
        elif badge.kind is TopicKind.STATUS:
            if payload:
                self.stats.badges[badge_id] = parse_status(payload)

    def _consent(self, badge_id: str, msg: ConsentMessage, now: float) -> None:
        """Consent messages go to the privacy layer; an opt-out first ends the session here,
        drops what is still on its way and tells the badge to stop and discard its audio."""
        key = (badge_id, msg.session_id)
        if isinstance(msg, OptOut):
            self._opted_out[key] = None
            while len(self._opted_out) > 1024:
                del self._opted_out[next(iter(self._opted_out))]
            self._ack_due.pop(key, None)
            self.recorder.drop(msg.session_id)
            if self.assembler.state(*key) not in (None, "finished"):
                self.assembler.stop(badge_id, SessionStop(msg.session_id), now)
        if self.on_consent is not None:
            self.on_consent(badge_id, msg, now)
        if isinstance(msg, OptOut):
            self.client.publish(badge_topic(self.site, badge_id, TopicKind.ACK),
                                encode_ack(Ack(msg.session_id, None, "opted_out")), qos=1)
            log.info("conversation %s: customer opted out on badge %s; purged", msg.session_id,
                     badge_id)

    def _admit(self, admission: Admission, key: _Key, size: int, timestamp_ms: int,
               now: float) -> None:
        """Refuse (ProtocolError with the refusal as reason) what the quotas do not allow."""
        written = self.recorder.written_bytes
        admission.wrote(written - self._written)
        self._written = written
        state = self.assembler.state(*key)
        if state == "finished":
            return  # the assembler refuses it as a replay, and the ack says finished
        if state is None:
            self._refuse_if(key, admission.new_session())
        self._refuse_if(key, admission.frame(key[0], size, timestamp_ms, now))

    def _refuse_if(self, key: _Key, reason: RefusalReason | None) -> None:
        if reason is not None:
            self._ack_due[key] = reason
            raise ProtocolError(f"session {key[1]} refused: {reason}", reason=reason)

    def send_acks(self) -> None:
        """Make released audio durable, then ack every session that sent something."""
        self.recorder.flush()
        due, self._ack_due = self._ack_due, {}
        for (badge_id, session_id), refusal in due.items():
            state = self.assembler.state(badge_id, session_id)
            if refusal is not None:
                ack = Ack(session_id, self.assembler.settled_seq(badge_id, session_id),
                          "refused", refusal, RETRY_AFTER_S[refusal])
            elif state is None:
                continue
            else:
                ack = Ack(session_id, self.assembler.settled_seq(badge_id, session_id),
                          "finished" if state == "finished" else "receiving")
            self.client.publish(badge_topic(self.site, badge_id, TopicKind.ACK),
                                encode_ack(ack), qos=1)
            self.stats.acks += 1

    def health(self) -> list[BadgeHealth]:
        """Every badge seen: presence, last seen, battery, signal and counters."""
        counters = self.assembler.stats()
        badges = set(self.stats.last_seen) | set(self.stats.badges) | set(counters)
        result = []
        for badge_id in sorted(badges):
            status = self.stats.badges.get(badge_id)
            tally = counters.get(badge_id)
            result.append(BadgeHealth(
                badge_id=badge_id, state=status.state if status else "unknown",
                last_seen=self.stats.last_seen.get(badge_id),
                battery_pct=status.battery_pct if status else None,
                rssi_dbm=status.rssi_dbm if status else None,
                firmware=status.firmware if status else None,
                frames=tally.frames if tally else 0,
                duplicates=tally.duplicates if tally else 0,
                gaps=tally.gaps if tally else 0,
                rejected=self.stats.rejected_by_badge[badge_id]
                + self.recorder.decode_errors.get(badge_id, 0)))
        return result
