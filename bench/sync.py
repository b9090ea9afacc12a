"""Benchmark: envelopes per second sealed, queued durably and published through a real broker.

Starts a throwaway Mosquitto on the loopback, then in one run:

* **gateway**: builds N conversation envelopes, seals each (HPKE + Ed25519), passes the egress
  guard, commits them to the SQLite outbox (``synchronous=FULL``, one transaction per batch) while
  the upstream publisher drains the outbox on its own thread with QoS 1, marking items sent after
  each PUBACK. The clock runs until the last one is acknowledged and marked sent.
* **backlog drain**: the same number of envelopes already sealed in the outbox (a van back
  online after days), published and marked sent: the publisher alone.
* **bare paho**: publishes the same payloads (same sizes) with QoS 1 and the same in-flight window
  and waits for every PUBACK; no sealing, no database.

    .venv/bin/python bench/sync.py [--count N] [--batch N] [--tags N]

The last line printed is a JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion

from gateway.crypto.identity import GatewayIdentity
from gateway.store.db import open_db
from gateway.sync.envelope import seal
from gateway.sync.metadata import queue_envelopes
from gateway.sync.schema import ConversationMetadata, Envelope, TagSpan
from gateway.sync.sqlite_outbox import SqliteOutbox
from gateway.sync.upstream import UpstreamPublisher

WINDOW = 100


def start_broker(directory: Path) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    config = directory / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
                      f"max_inflight_messages {WINDOW}\nmax_queued_messages 100000\n")
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            time.sleep(0.02)
    process.kill()
    raise SystemExit("mosquitto did not start")


def envelopes(count: int, tags: int, gateway_id: str) -> list[Envelope]:
    spans = tuple(TagSpan(f"tag-{i % 7}", float(i), float(i) + 2.5, 0.8) for i in range(tags))
    result = []
    for n in range(count):
        body = ConversationMetadata(f"c-{n:08d}", gateway_id, "store-042", f"badge-{n % 40}",
                                    f"rep-{n % 25}", 1.7e9 + n, 1.7e9 + n + 300, 300.0, 240.0,
                                    spans, n % 3)
        result.append(Envelope("conversation", f"conversation:c-{n:08d}", 1.7e9 + n, body))
    return result


def run_gateway(db_path: Path, port: int, items: list[Envelope], batch: int,
                identity: GatewayIdentity, tenant: X25519PrivateKey) -> dict[str, float]:
    """Seal, queue and publish ``items``; the clock stops when the outbox is empty."""
    stop = threading.Event()
    drained = threading.Event()

    def publish() -> None:
        db = open_db(db_path)
        outbox = SqliteOutbox(db)
        publisher = UpstreamPublisher(outbox, host="127.0.0.1", port=port, client_id="gw-bench",
                                      batch_size=WINDOW, idle_interval=0.05)
        publisher.tick = lambda: drained.set() if outbox.backlog() == 0 and done.is_set() else None
        publisher.run(stop)
        db.close()

    done = threading.Event()
    db = open_db(db_path)
    outbox = SqliteOutbox(db)
    thread = threading.Thread(target=publish, daemon=True)
    start = time.perf_counter()
    thread.start()
    for i in range(0, len(items), batch):
        queue_envelopes(outbox, items[i:i + batch], identity=identity,
                        recipient=tenant.public_key())
    queued = time.perf_counter() - start
    done.set()
    while outbox.backlog():
        time.sleep(0.005)
    total = time.perf_counter() - start
    stop.set()
    thread.join()
    db.close()
    return {"queued_s": queued, "total_s": total, "rate": len(items) / total,
            "payload_bytes": len(seal(items[0], identity=identity,
                                      recipient_public_key=tenant.public_key()))}


def run_drain(db_path: Path, port: int, items: list[Envelope], batch: int,
              identity: GatewayIdentity, tenant: X25519PrivateKey) -> dict[str, float]:
    """Queue ``items`` with no uplink, then time the publisher draining them."""
    db = open_db(db_path)
    outbox = SqliteOutbox(db)
    for i in range(0, len(items), batch):
        queue_envelopes(outbox, items[i:i + batch], identity=identity,
                        recipient=tenant.public_key())
    publisher = UpstreamPublisher(outbox, host="127.0.0.1", port=port, client_id="gw-drain",
                                  batch_size=WINDOW)
    start = time.perf_counter()
    while outbox.backlog():
        publisher.drain_once(timeout=60)
    total = time.perf_counter() - start
    publisher.close()
    db.close()
    return {"total_s": total, "rate": len(items) / total}


def run_bare(port: int, sizes: list[int]) -> dict[str, float]:
    """Publish payloads of ``sizes`` with QoS 1 in windows of WINDOW, awaiting each PUBACK."""
    acked = threading.Semaphore(0)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bare-bench",
                         protocol=mqtt.MQTTv5)
    client.max_inflight_messages_set(WINDOW)
    client.on_publish = lambda *_: acked.release()
    client.connect("127.0.0.1", port)
    client.loop_start()
    payloads = [b"x" * size for size in sizes]
    start = time.perf_counter()
    for i in range(0, len(payloads), WINDOW):  # the same window: publish, then await PUBACKs
        chunk = payloads[i:i + WINDOW]
        for payload in chunk:
            client.publish("salestag/v1/hq/gw-bench/envelopes", payload, qos=1)
        for _ in chunk:
            acked.acquire()
    total = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return {"total_s": total, "rate": len(payloads) / total}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=5000, help="envelopes per run")
    parser.add_argument("--batch", type=int, default=50,
                        help="envelopes committed per outbox transaction")
    parser.add_argument("--tags", type=int, default=8, help="tag spans per conversation")
    args = parser.parse_args()
    identity = GatewayIdentity(Ed25519PrivateKey.generate(), "gw-bench")
    tenant = X25519PrivateKey.generate()
    items = envelopes(args.count, args.tags, identity.gateway_id)
    with tempfile.TemporaryDirectory() as tmp:
        broker, port = start_broker(Path(tmp))
        try:
            gateway = run_gateway(Path(tmp) / "gateway.db", port, items, args.batch, identity,
                                  tenant)
            drain = run_drain(Path(tmp) / "drain.db", port, envelopes(args.count, args.tags,
                              "gw-drain"), args.batch, GatewayIdentity(
                                  Ed25519PrivateKey.generate(), "gw-drain"), tenant)
            bare = run_bare(port, [int(gateway["payload_bytes"])] * args.count)
        finally:
            broker.terminate()
            broker.wait()
    ratio = gateway["rate"] / bare["rate"]
    size = gateway["payload_bytes"]
    print(f"{args.count} envelopes of {size} B ({args.tags} tags), batch {args.batch}")
    print(f"gateway (seal + outbox + publish + ack): {gateway['rate']:8.0f} envelopes/s "
          f"({gateway['total_s']:.2f} s; queued in {gateway['queued_s']:.2f} s)")
    print(f"backlog drain (publish + mark sent):     {drain['rate']:8.0f} envelopes/s "
          f"({drain['total_s']:.2f} s); ratio to bare {drain['rate'] / bare['rate']:.2f}")
    print(f"bare paho QoS 1, same payload sizes:    {bare['rate']:8.0f} messages/s "
          f"({bare['total_s']:.2f} s)")
    print(f"ratio gateway / bare: {ratio:.2f}")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(json.dumps({"count": args.count, "batch": args.batch, "tags": args.tags,
                      "payload_bytes": size, "gateway": gateway, "drain": drain, "bare": bare,
                      "ratio": ratio, "drain_ratio": drain["rate"] / bare["rate"],
                      "loadavg": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
