"""Ingest benchmark: N paired badges stream PCM16 in real time over TLS through the gateway's own
Mosquitto into the gateway's ingest process; then a full-speed backlog compares the gateway's
throughput with a bare paho subscriber that only counts messages, in the same run.

    .venv/bin/python bench/ingest.py --badges 200 --seconds 30

Prints progress to stderr and one final JSON line: badges, frames_per_s, lost, duplicated,
p50_ack_ms, p99_ack_ms, gateway_cpu_pct, gateway_rss_mb, and the full-speed figures
(gateway_full_speed_fps, bare_subscriber_fps, ratio_to_bare_subscriber). ``lost`` and
``duplicated`` are counted from the decrypted spool: every frame carries its badge and seq.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from support import log, make_gateway

from gateway.broker import UPLOAD_USER, local_password
from gateway.config import load_config
from gateway.crypto.datakeys import KeyStore
from gateway.mqtt_socket import send_without_delay
from gateway.pki.pairing import pair_badge
from gateway.protocol.acks import Ack, encode_ack, parse_ack
from gateway.protocol.control import SessionStart, encode_control
from gateway.protocol.frames import AudioFrame, Codec, decode_frame, encode_frame
from gateway.protocol.topics import TopicKind, badge_topic
from gateway.store.db import open_db
from gateway.store.layout import Layout
from gateway.store.spool import AudioSpool

SITE = "bench"
FRAME_MS = 100
FRAME_BYTES = 16000 * FRAME_MS // 1000 * 2
MARK = struct.Struct("<II")


def payload(badge: int, seq: int) -> bytes:
    """A frame's audio, marked with its badge and seq so the spool can be audited."""
    return MARK.pack(badge, seq) + bytes(FRAME_BYTES - MARK.size)


def proc_cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ---- badge worker process: many TLS clients in one selector loop --------------------------

class Badge:
    def __init__(self, index: int, bundle: Path, port: int) -> None:
        self.index, self.badge_id = index, f"badge-{index:04d}"
        self.sid = uuid.uuid4().hex
        self.sent: dict[int, float] = {}
        self.latencies: list[float] = []
        self.acked = -1
        self.finished = False
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"badge-{self.badge_id}",
                                  protocol=MQTTProtocolVersion.MQTTv5)
        self.client.tls_set(ca_certs=str(bundle / "ca.crt"), certfile=str(bundle / "badge.crt"),
                            keyfile=str(bundle / "badge.key"))
        self.client.max_inflight_messages_set(100)
        send_without_delay(self.client)
        self.client.on_message = self.on_ack
        self.client.connect("127.0.0.1", port, keepalive=60)
        self.client.subscribe(badge_topic(SITE, self.badge_id, TopicKind.ACK), qos=1)

    def on_ack(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        ack = parse_ack(bytes(message.payload))
        now = time.monotonic()
        top = ack.seq if ack.seq is not None else -1
        for seq in range(self.acked + 1, top + 1):
            if seq in self.sent:
                self.latencies.append(now - self.sent[seq])
        self.acked = max(self.acked, top)
        self.finished = self.finished or ack.status == "finished"

    def publish(self, seq: int, final: bool) -> None:
        if seq == 0:
            self.client.publish(badge_topic(SITE, self.badge_id, TopicKind.CONTROL),
                                encode_control(SessionStart(self.sid, "rep", time.time())), qos=1)
        frame = AudioFrame(self.sid, seq, seq * FRAME_MS, Codec.PCM16, 16000, 1, final,
                           payload(self.index, seq))
        self.sent[seq] = time.monotonic()
        self.client.publish(badge_topic(SITE, self.badge_id, TopicKind.AUDIO),
                            encode_frame(frame), qos=1)


class Pump:
    """Drives every client's socket from one selector (paho's external-loop interface)."""

    def __init__(self, badges: list[Badge]) -> None:
        self.badges = badges
        self.selector = selectors.DefaultSelector()
        self.registered: dict[Badge, int] = {}
        self.misc_at = 0.0

    def __call__(self, until: float) -> None:
        for badge in self.badges:
            sock = badge.client.socket()
            if sock is None:
                continue
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE
                                             if badge.client.want_write() else 0)
            if badge not in self.registered:
                self.selector.register(sock, events, badge)
            elif self.registered[badge] != events:
                self.selector.modify(sock, events, badge)
            self.registered[badge] = events
        timeout = max(0.0, min(until - time.monotonic(), 0.02))
        for key, mask in self.selector.select(timeout):
            client = key.data.client
            if mask & selectors.EVENT_READ:
                client.loop_read(100)
            if mask & selectors.EVENT_WRITE:
                client.loop_write()
        if time.monotonic() >= self.misc_at:
            for badge in self.badges:
                badge.client.loop_misc()
            self.misc_at = time.monotonic() + 1.0


def worker_main(args: argparse.Namespace) -> int:
    indexes = [int(i) for i in args.worker.split(",")]
    badges = [Badge(i, Path(args.bundles) / f"badge-{i:04d}", args.port) for i in indexes]
    pump = Pump(badges)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(b.client.is_connected() for b in badges):
        pump(time.monotonic() + 0.05)
    gc.freeze()  # the load generator's own collections would count as the gateway's latency
    frames = int(args.seconds * 1000 / FRAME_MS)
    start = time.monotonic() + 0.5
    # spread the badges over one frame period, as real badges are not in step
    offsets = [start + (n / len(badges)) * FRAME_MS / 1000 for n in range(len(badges))]
    for seq in range(frames):
        for badge, offset in zip(badges, offsets, strict=True):
            due = offset + seq * FRAME_MS / 1000
            while time.monotonic() < due:
                pump(due)
            badge.publish(seq, seq == frames - 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(b.finished for b in badges):
        pump(time.monotonic() + 0.05)
    for badge in badges:
        badge.client.disconnect()
    Path(args.out).write_text(json.dumps({"sent": frames * len(badges),
                      "finished": sum(b.finished for b in badges),
                      "latencies": [round(x * 1000, 2) for b in badges for x in b.latencies],
                      "sessions": {b.sid: b.index for b in badges}}))
    return 0


# ---- bare subscriber process ---------------------------------------------------------------

def bare_main(args: argparse.Namespace) -> int:
    config = load_config(Path(args.bare))
    count = 0
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-bare",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(config.broker.username, local_password(config, "gateway"))

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        nonlocal count
        count += 1

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(f"salestag/v1/{SITE}/badges/+/audio", qos=1)
    client.on_subscribe = lambda c, *a: print("ready", flush=True)
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 3600
    client.connect(config.broker.host, config.broker.port, clean_start=False, properties=props)
    last = -1
    while True:
        client.loop(timeout=0.01)
        if count != last:
            print(f"{count} {time.monotonic()}", flush=True)
            last = count


# ---- echo responder: the ack round trip with nothing stored ----------------------------------

def echo_main(args: argparse.Namespace) -> int:
    """Ack every frame the moment it arrives: the floor the gateway's ack latency is held to."""
    config = load_config(Path(args.echo))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-echo",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(config.broker.username, local_password(config, "gateway"))
    client.max_inflight_messages_set(1000)
    send_without_delay(client)

    def on_message(c: mqtt.Client, u: object, m: mqtt.MQTTMessage) -> None:
        frame = decode_frame(bytes(m.payload))
        badge_id = m.topic.split("/")[4]
        ack = Ack(frame.session_id, frame.seq, "finished" if frame.final else "receiving")
        c.publish(badge_topic(SITE, badge_id, TopicKind.ACK), encode_ack(ack), qos=1)

    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe(f"salestag/v1/{SITE}/badges/+/audio", qos=1)
    client.on_subscribe = lambda c, *a: print("ready", flush=True)
    client.connect(config.broker.host, config.broker.port)
    client.loop_forever()
    return 0


# ---- the conductor -------------------------------------------------------------------------

def setup(root: Path, badges: int, fsync: str) -> Path:
    config_path = make_gateway(root, SITE, f"""
[ingest]
session_timeout_s = 60
fsync = "{fsync}"
""")
    config = load_config(config_path)
    db = open_db(Layout(config.data_dir).db)
    for i in range(badges):
        pair_badge(config, db, f"badge-{i:04d}", root / "bundles", reload=False)
    db.close()
    return config_path


def wait_port(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def audit(config_path: Path, sessions: dict[str, int], sent_per_badge: int) -> tuple[int, int]:
    """(lost, duplicated) frames, from the decrypted spool of every session."""
    config = load_config(config_path)
    keys = KeyStore.load(config.data_dir / "keys" / "kek.key")
    spool = AudioSpool(config.data_dir / "spool")
    db = open_db(Layout(config.data_dir).db)
    lost = duplicated = 0
    for sid, index in sessions.items():
        row = db.execute("SELECT wrapped_key FROM conversations WHERE id = ?", [sid]).fetchone()
        seen: Counter[int] = Counter()
        if row is not None:
            audio = spool.read(sid, keys.unwrap(row[0], context=sid.encode()))
            for offset in range(0, len(audio), FRAME_BYTES):
                badge, seq = MARK.unpack_from(audio, offset)
                if badge == index:
                    seen[seq] += 1
        lost += sum(1 for seq in range(sent_per_badge) if seq not in seen)
        duplicated += sum(n - 1 for n in seen.values() if n > 1)
    db.close()
    return lost, duplicated


def full_speed(config_path: Path, gateway: subprocess.Popen[bytes],
               bare: subprocess.Popen[str], bare_counts: list[tuple[int, float]],
               badges: int, per_badge: int) -> tuple[float, float]:
    """Queue a backlog while gateway and bare subscriber are stopped; time how fast each drains."""
    config = load_config(config_path)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-burst",
                         protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set(UPLOAD_USER, local_password(config, "upload"))
    finished: set[str] = set()
    done_at: list[float] = []
    client.on_message = lambda c, u, m: (
        finished.add(parse_ack(bytes(m.payload)).session_id)
        if parse_ack(bytes(m.payload)).status == "finished" else None)
    client.connect(config.broker.host, config.broker.port)
    client.subscribe(f"salestag/v1/{SITE}/badges/+/ack", qos=1)
    client.loop_start()
    time.sleep(0.5)
    before = bare_counts[-1][0] if bare_counts else 0
    os.kill(gateway.pid, signal.SIGSTOP)
    os.kill(bare.pid, signal.SIGSTOP)
    sids = []
    infos = []
    for i in range(badges):
        sid = uuid.uuid4().hex
        sids.append(sid)
        badge_id = f"badge-{i:04d}"
        client.publish(badge_topic(SITE, badge_id, TopicKind.CONTROL),
                       encode_control(SessionStart(sid, "rep", time.time())), qos=1)
        for seq in range(per_badge):
            frame = AudioFrame(sid, seq, seq * FRAME_MS, Codec.PCM16, 16000, 1,
                               seq == per_badge - 1, payload(i, seq))
            infos.append(client.publish(badge_topic(SITE, badge_id, TopicKind.AUDIO),
                                        encode_frame(frame), qos=1))
    for info in infos:
        info.wait_for_publish(120)
    total = badges * per_badge
    log(f"full speed: {total} frames queued; resuming gateway and bare subscriber")
    resumed = time.monotonic()
    os.kill(gateway.pid, signal.SIGCONT)
    os.kill(bare.pid, signal.SIGCONT)
    deadline = resumed + 300
    while time.monotonic() < deadline and len(finished & set(sids)) < badges:
        time.sleep(0.01)
    done_at.append(time.monotonic())
    while time.monotonic() < deadline and bare_counts[-1][0] < before + total:
        time.sleep(0.01)
    bare_done = next((t for n, t in bare_counts if n >= before + total), time.monotonic())
    client.loop_stop()
    client.disconnect()
    return total / (done_at[0] - resumed), total / max(bare_done - resumed, 1e-6)


def start_helper(role: str, config_path: Path,
                 procs: list[subprocess.Popen[str]]) -> tuple[subprocess.Popen[str],
                                                               list[tuple[int, float]]]:
    """Start the bare subscriber or the echo responder; return once it has subscribed."""
    proc = subprocess.Popen([sys.executable, __file__, f"--{role}", str(config_path)],
                            stdout=subprocess.PIPE, text=True)
    procs.append(proc)
    counts: list[tuple[int, float]] = [(0, time.monotonic())]
    subscribed = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "ready":
                subscribed.set()
                continue
            n, t = line.split()
            counts.append((int(n), float(t)))

    threading.Thread(target=read, daemon=True).start()
    if not subscribed.wait(30):
        raise SystemExit(f"bench: the {role} process never subscribed")
    return proc, counts


def stream(args: argparse.Namespace, root: Path, port: int, responder: int,
           phase: str) -> dict[str, object]:
    """Every badge streams in real time; returns latencies, sessions and the responder's
    CPU and peak RSS."""
    cpu0, wall0 = proc_cpu_s(responder), time.monotonic()
    chunks = [list(range(args.badges))[n::args.workers] for n in range(args.workers)]
    outs = [root / f"{phase}-{n}.json" for n in range(len(chunks))]
    workers = [subprocess.Popen(
        [sys.executable, __file__, "--worker", ",".join(map(str, chunk)), "--bundles",
         str(root / "bundles"), "--port", str(port), "--seconds", str(args.seconds),
         "--out", str(out)]) for chunk, out in zip(chunks, outs, strict=True) if chunk]
    rss = 0.0
    while any(w.poll() is None for w in workers):
        rss = max(rss, proc_rss_mb(responder))
        time.sleep(0.5)
    cpu = (proc_cpu_s(responder) - cpu0) / (time.monotonic() - wall0) * 100
    if not all(out.exists() for out in outs):
        raise SystemExit("bench: a badge worker failed (see above)")
    results = [json.loads(out.read_text()) for out in outs]
    return {"latencies": sorted(x for r in results for x in r["latencies"]),
            "sent": sum(r["sent"] for r in results),
            "sessions": {sid: index for r in results for sid, index in r["sessions"].items()},
            "cpu": cpu, "rss": rss}


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--badges", type=int, default=20, help="simulated badges")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds of audio each")
    parser.add_argument("--workers", type=int, default=2, help="badge load processes")
    parser.add_argument("--fsync", choices=("always", "never"), default="always",
                        help="the gateway's fsync policy")
    parser.add_argument("--burst-frames", type=int, default=50,
                        help="frames per badge in the full-speed backlog")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the echo responder's run (the ack latency floor)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--bundles", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--bare", help=argparse.SUPPRESS)
    parser.add_argument("--echo", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker_main(args)
    if args.bare:
        return bare_main(args)
    if args.echo:
        return echo_main(args)

    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    procs: list[subprocess.Popen[bytes] | subprocess.Popen[str]] = []
    try:
        log(f"pairing {args.badges} badges in {root}")
        config_path = setup(root, args.badges, args.fsync)
        config = load_config(config_path)
        broker = subprocess.Popen([shutil.which("mosquitto") or "mosquitto", "-c",
                                   str(config.data_dir / "mosquitto" / "mosquitto.conf")],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(broker)
        wait_port(config.broker.port)
        wait_port(config.broker.tls_port)
        floor: list[float] = []
        if not args.no_floor:
            log(f"floor: an echo responder acks each frame on arrival ({args.seconds:.0f} s)")
            echo, _ = start_helper("echo", config_path, procs)  # type: ignore[arg-type]
            floor = stream(args, root, config.broker.tls_port, echo.pid, "echo")["latencies"]  # type: ignore[assignment]
            echo.terminate()
            echo.wait(timeout=20)
        gateway = subprocess.Popen([sys.executable, "-m", "gateway", "--config",
                                    str(config_path), "ingest"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(gateway)
        time.sleep(2.0)
        log(f"{args.badges} badges stream {args.seconds:.0f} s each over TLS in real time")
        run = stream(args, root, config.broker.tls_port, gateway.pid, "gateway")
        latencies: list[float] = run["latencies"]  # type: ignore[assignment]
        sessions: dict[str, int] = run["sessions"]  # type: ignore[assignment]
        lost, duplicated = audit(config_path, sessions, int(args.seconds * 1000 / FRAME_MS))
        log("full-speed backlog: gateway against a bare subscriber")
        # the bare subscriber joins only now, so it takes no CPU from the real-time phase
        bare, bare_counts = start_helper("bare", config_path, procs)  # type: ignore[arg-type]
        gateway_fps, bare_fps = full_speed(config_path, gateway, bare, bare_counts,
                                           args.badges, args.burst_frames)
        result = {
            "badges": args.badges, "frames_per_s": round(int(run["sent"]) / args.seconds, 1),  # type: ignore[call-overload]
            "lost": lost, "duplicated": duplicated, "p50_ack_ms": percentile(latencies, 0.50),
            "p99_ack_ms": percentile(latencies, 0.99),
            "gateway_cpu_pct": round(float(run["cpu"]), 1),  # type: ignore[arg-type]
            "gateway_rss_mb": round(float(run["rss"]), 1),  # type: ignore[arg-type]
            "fsync": args.fsync,
            "gateway_full_speed_fps": round(gateway_fps, 1),
            "bare_subscriber_fps": round(bare_fps, 1),
            "ratio_to_bare_subscriber": round(gateway_fps / bare_fps, 3)}
        if floor:
            result |= {"floor_p50_ack_ms": percentile(floor, 0.50),
                       "floor_p99_ack_ms": percentile(floor, 0.99),
                       "p99_ack_over_floor": round(percentile(latencies, 0.99)
                                                   / percentile(floor, 0.99), 2)}
        print(json.dumps(result))
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
                proc.terminate()
                proc.wait(timeout=20)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
