"""Socket options for the gateway's MQTT clients."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt


def send_without_delay(client: mqtt.Client) -> None:
    """Turn off Nagle's algorithm on ``client``'s sockets: MQTT acks and frames are small, and
    Nagle would hold each behind the peer's delayed TCP ack (about 40 ms on Linux)."""

    def on_socket_open(client: mqtt.Client, userdata: object, sock: object) -> None:
        if isinstance(sock, socket.socket):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    client.on_socket_open = on_socket_open
