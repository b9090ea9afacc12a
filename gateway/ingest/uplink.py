"""The upload server's link to the ingest: the local broker, as the ``salestag-upload`` user.

Each server process has one MQTT client (made on its first upload). It publishes a badge's
uploads on that badge's own topics, and listens to every badge's ``ack`` topic so a request can
answer with the gateway's ack.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from gateway.broker import UPLOAD_USER, local_password
from gateway.config import Config
from gateway.errors import GatewayError
from gateway.ingest.ack_board import AckBoard
from gateway.mqtt_socket import send_without_delay
from gateway.protocol.acks import Ack, parse_ack
from gateway.protocol.errors import ProtocolError
from gateway.protocol.topics import PREFIX, TopicKind, badge_topic, parse_topic

log = logging.getLogger(__name__)


class Uplink(Protocol):
    """Where uploaded messages go and where their acks come back from."""

    def submit(self, badge_id: str, kind: TopicKind, payload: bytes, session_id: str,
               seq: int | None, timeout_s: float) -> Ack | None:
        """Hand a message to the ingest; the ack that covers ``seq`` (any new one for None),
        or the newest one when ``timeout_s`` passes first."""
        ...

    def last_ack(self, badge_id: str, session_id: str) -> Ack | None: ...


class UplinkError(GatewayError):
    """The local broker cannot be reached."""


class MqttUplink:
    """Publishes uploads into the local broker and collects the gateway's acks."""

    def __init__(self, config: Config, *, connect_timeout_s: float = 5.0) -> None:
        self.site = config.site.id
        self.board = AckBoard()
        self._connected = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5,
                                  client_id=f"upload-{threading.get_native_id()}")
        self.client.username_pw_set(UPLOAD_USER, local_password(config, "upload"))
        send_without_delay(self.client)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.connect(config.broker.host, config.broker.port, keepalive=30)
        self.client.loop_start()
        if not self._connected.wait(connect_timeout_s):
            self.client.loop_stop()
            raise UplinkError(f"local broker {config.broker.host}:{config.broker.port} "
                              "did not accept the upload server")

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object) -> None:
        client.subscribe(f"{PREFIX}/{self.site}/badges/+/{TopicKind.ACK}", qos=1)
        self._connected.set()

    def _on_message(self, client: mqtt.Client, userdata: object,
                    message: mqtt.MQTTMessage) -> None:
        try:
            self.board.post(parse_topic(message.topic).badge_id, parse_ack(bytes(message.payload)))
        except ProtocolError as exc:
            log.warning("ignored a malformed ack on %s: %s", message.topic, exc)

    def submit(self, badge_id: str, kind: TopicKind, payload: bytes, session_id: str,
               seq: int | None, timeout_s: float) -> Ack | None:
        since = self.board.get(badge_id, session_id)
        info = self.client.publish(badge_topic(self.site, badge_id, kind), payload, qos=1)
        info.wait_for_publish(timeout_s)
        return self.board.wait(badge_id, session_id, seq, timeout_s, since)

    def last_ack(self, badge_id: str, session_id: str) -> Ack | None:
        return self.board.get(badge_id, session_id)
