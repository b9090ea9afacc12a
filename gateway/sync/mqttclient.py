"""A paho client that closes its TLS socket when the handshake fails (paho leaves it open, which
leaks a descriptor on every failed reconnect of a gateway that is offline for days)."""

from __future__ import annotations

import socket
import ssl

import paho.mqtt.client as mqtt


class Client(mqtt.Client):
    """:class:`paho.mqtt.client.Client`, closing the socket of a failed TLS handshake."""

    def _ssl_wrap_socket(self, tcp_sock: socket.socket) -> ssl.SSLSocket:
        context = self._ssl_context
        if context is None:
            raise ValueError("TLS is not configured")
        ssl_sock = context.wrap_socket(tcp_sock, server_hostname=self._host,
                                       do_handshake_on_connect=False)
        try:
            ssl_sock.settimeout(self._connect_timeout)
            ssl_sock.do_handshake()
            if not context.check_hostname:
                raise ssl.SSLError("the TLS context must check the broker's host name")
        except BaseException:
            ssl_sock.close()
            raise
        return ssl_sock
