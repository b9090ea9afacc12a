"""Publishes sealed envelopes from the durable outbox to the upstream (HQ) broker.

Delivery is at least once: QoS 1 in a persistent MQTT v5 session, and an item is marked sent only
after the broker's PUBACK with a success reason code. Anything unacknowledged stays in the outbox
and is published again after a reconnect; HQ drops the duplicates by idempotency key. Every item
passes the egress guard right before it is published. All outbox calls happen on the thread that
calls :meth:`UpstreamPublisher.run` or :meth:`UpstreamPublisher.drain_once`.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from gateway.errors import GatewayError
from gateway.sync.egress import DEFAULT_MAX_ENVELOPE_BYTES, EgressError, check_sealed
from gateway.sync.mqttclient import Client
from gateway.sync.outbox import Outbox, OutboxItem

log = logging.getLogger(__name__)


class UpstreamError(GatewayError):
    """The upstream broker is unreachable, refused us, or did not acknowledge in time."""


def backoff_delay(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with jitter: a delay in [d/2, d] where d = min(maximum, initial*2^n)."""
    ceiling = min(maximum, initial * 2.0 ** min(attempt, 30))
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not a secret


class UpstreamPublisher:
    """Drains an :class:`Outbox` to the upstream broker with QoS 1 over MQTT v5."""

    def __init__(
        self,
        outbox: Outbox,
        *,
        host: str,
        port: int,
        client_id: str,
        tls: ssl.SSLContext | None = None,
        keepalive: int = 30,
        batch_size: int = 50,
        connect_timeout: float = 10.0,
        publish_timeout: float = 30.0,
        idle_interval: float = 5.0,
        backoff_initial: float = 1.0,
        backoff_max: float = 60.0,
        session_expiry_s: int = 7 * 24 * 3600,
        max_envelope_bytes: int = DEFAULT_MAX_ENVELOPE_BYTES,
        tick: Callable[[], None] | None = None,
    ) -> None:
        """``tick`` runs on the publisher's thread once per cycle (and at least every
        ``idle_interval``), connected or not: the place for timers such as health reports."""
        self.outbox = outbox
        self.host, self.port, self.client_id, self.tls = host, port, client_id, tls
        self.keepalive, self.batch_size = keepalive, batch_size
        self.connect_timeout, self.publish_timeout = connect_timeout, publish_timeout
        self.idle_interval = idle_interval
        self.backoff_initial, self.backoff_max = backoff_initial, backoff_max
        self.session_expiry_s = session_expiry_s
        self.max_envelope_bytes = max_envelope_bytes
        self.tick = tick
        self._client: mqtt.Client | None = None
        self._connected = threading.Event()
        self._connack = threading.Event()
        self._connack_error: str | None = None
        self._acks: dict[int, ReasonCode] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()

    @property
    def connected(self) -> bool:
        """True only between a successful CONNACK and the next disconnect."""
        return self._connected.is_set()

    def notify(self) -> None:
        """Tell a running publisher that new items are waiting, so it drains now."""
        self._wake.set()

    # paho callbacks (network thread)
    def _on_connect(self, _c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        self._connack_error = str(code) if code.is_failure else None
        if not code.is_failure:
            self._connected.set()
        self._connack.set()

    def _on_disconnect(self, _c: mqtt.Client, _u: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        if self._connected.is_set():
            log.warning("upstream broker %s:%d disconnected: %s", self.host, self.port, code)
        self._connected.clear()

    def _on_publish(self, _c: mqtt.Client, _u: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        with self._lock:
            self._acks[mid] = code

    def connect(self, timeout: float) -> None:
        """Open a fresh MQTT v5 session; raises UpstreamError unless CONNACK succeeds in time."""
        self.close()
        client = Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            protocol=mqtt.MQTTv5,
            reconnect_on_failure=False,
        )
        if self.tls is not None:
            client.tls_set_context(self.tls)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.connect_timeout = timeout
        client.max_inflight_messages_set(max(20, self.batch_size))
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.session_expiry_s
        self._connack.clear()
        try:
            client.connect(self.host, self.port, keepalive=self.keepalive, clean_start=False,
                           properties=properties)
        except (OSError, ValueError) as err:
            where = f"{self.host}:{self.port}"
            raise UpstreamError(f"cannot reach upstream broker {where}: {err}") from None
        self._client = client
        client.loop_start()
        if not self._connack.wait(timeout):
            self.close()
            raise UpstreamError(f"no CONNACK from {self.host}:{self.port} within {timeout:.1f} s")
        if self._connack_error is not None:
            self.close()
            raise UpstreamError(f"upstream broker refused the connection: {self._connack_error}")
        log.info("connected to upstream broker %s:%d", self.host, self.port)

    def close(self) -> None:
        """Disconnect and stop the network thread; unacknowledged items stay in the outbox."""
        client, self._client = self._client, None
        self._connected.clear()
        if client is not None:
            client.disconnect()
            client.loop_stop()
        with self._lock:
            self._acks.clear()

    def drain_once(self, timeout: float) -> int:
        """Publish everything pending (connecting first if needed); returns how many were acked.

        Raises UpstreamError when the broker cannot be reached, refuses an item, or does not
        acknowledge within ``timeout``; items acknowledged before that are already marked sent.
        """
        deadline = time.monotonic() + timeout
        if not self.connected:
            self.connect(timeout)
        total = 0
        while time.monotonic() < deadline:
            items = self.outbox.pending(self.batch_size)
            if not items:
                break
            total += self._publish_batch(items, deadline, timeout)
            if len(items) < self.batch_size:
                break
        return total

    def _publish_batch(self, items: list[OutboxItem], deadline: float, timeout: float) -> int:
        client = self._client
        if client is None or not self.connected:
            raise UpstreamError("not connected to the upstream broker")
        in_flight = []
        for item in items:
            try:
                check_sealed(item.topic, item.payload, max_bytes=self.max_envelope_bytes)
            except EgressError as err:
                self.outbox.reject(item.id, str(err))
                continue
            info = client.publish(item.topic, item.payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                raise UpstreamError(f"publish failed: {mqtt.error_string(info.rc)}")
            in_flight.append((item, info))
        acked: list[int] = []
        refused = 0
        try:
            for item, info in in_flight:
                self._await_puback(info, deadline, timeout)
                with self._lock:
                    code = self._acks.pop(info.mid, None)
                if code is not None and code.is_failure:
                    log.warning("upstream broker refused outbox item %d: %s", item.id, code)
                    refused += 1
                    continue
                acked.append(item.id)
        finally:
            self.outbox.mark_sent_many(acked)
        if refused:
            raise UpstreamError(f"upstream broker refused {refused} envelope(s)")
        return len(acked)

    def _await_puback(self, info: mqtt.MQTTMessageInfo, deadline: float, timeout: float) -> None:
        try:
            while not info.is_published():
                if not self.connected:
                    raise UpstreamError("connection lost while waiting for PUBACK")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise UpstreamError(f"no PUBACK within {timeout:.1f} s")
                info.wait_for_publish(min(0.25, remaining))
        except (RuntimeError, ValueError) as err:
            raise UpstreamError(f"publish failed: {err}") from None

    def run(self, stop: threading.Event) -> None:
        """Connect, drain, idle until notified; on failure back off with jitter and reconnect."""
        attempt = 0
        try:
            while not stop.is_set():
                self._tick()
                try:
                    if not self.connected:
                        self.connect(self.connect_timeout)
                    sent = self.drain_once(self.publish_timeout)
                except UpstreamError as err:
                    self.close()
                    delay = backoff_delay(attempt, self.backoff_initial, self.backoff_max)
                    attempt += 1
                    log.warning("upstream sync failed (%s); retrying in %.1f s", err, delay)
                    stop.wait(delay)
                    continue
                attempt = 0
                if sent:
                    log.info("delivered %d envelope(s) upstream", sent)
                self._idle(stop)
        finally:
            self.close()

    def _tick(self) -> None:
        if self.tick is None:
            return
        try:
            self.tick()
        except GatewayError as err:
            log.warning("upstream periodic task failed: %s", err)

    def _idle(self, stop: threading.Event) -> None:
        deadline = time.monotonic() + self.idle_interval
        while not stop.is_set() and self.connected:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._wake.wait(min(0.25, remaining)):
                break
        self._wake.clear()
