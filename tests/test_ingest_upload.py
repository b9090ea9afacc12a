"""The Wi-Fi upload path end to end: gunicorn over HTTPS, a badge authenticated by its client
certificate or its upload token, frames through the broker into the same assembler and spool."""

from __future__ import annotations

import http.client
import json
import ssl
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import free_port
from ingest_kit import Gateway, make_gateway, wait_port

from gateway.ingest.badge_sim import TlsBundle, pcm16_audio
from gateway.protocol.control import SessionStart, encode_control
from gateway.protocol.frames import AudioFrame, Codec, encode_frame

pytestmark = pytest.mark.slow


class UploadServer:
    """``salestag-gateway badge-server`` as a process the test can restart."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.gw.root / "upload.log").open("ab") as sink:
            self.process = subprocess.Popen(self.gw.cli("badge-server"), stdout=sink,
                                            stderr=sink)
        wait_port(self.gw.config.upload.port, 30)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[tuple[Gateway, UploadServer]]:
    port = free_port()
    gw = make_gateway(tmp_path / "gw", f"[upload]\nport = {port}\nbind = \"127.0.0.1\"\n"
                                       "workers = 1\nack_wait_s = 5\n")
    gw.start_broker()
    gw.start_ingest()
    server = UploadServer(gw)
    try:
        server.start()
        yield gw, server
    finally:
        server.stop()
        gw.close()


@pytest.fixture
def gateway(rig: tuple[Gateway, UploadServer]) -> Gateway:
    return rig[0]


OPEN: list[http.client.HTTPSConnection] = []


@pytest.fixture(autouse=True)
def close_connections() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def connection(gw: Gateway, bundle: TlsBundle, *, with_cert: bool) -> http.client.HTTPSConnection:
    context = ssl.create_default_context(cafile=str(bundle.ca))
    if with_cert:
        context.load_cert_chain(str(bundle.cert), str(bundle.key))
    conn = http.client.HTTPSConnection("localhost", gw.config.upload.port, context=context,
                                       timeout=20)
    OPEN.append(conn)
    return conn


def put(conn: http.client.HTTPSConnection, path: str, body: bytes,
        token: str | None = None, *, patience_s: float = 30.0) -> tuple[int, dict[str, object]]:
    """PUT like a badge: a 202 (received, not yet stored) is resent until it is answered.

    Each resend is counted in ``RESENDS``: the gateway sees it as a duplicate frame.
    """
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + patience_s
    while True:
        conn.request("PUT", path, body=body, headers=headers)
        response = conn.getresponse()
        status, answer = response.status, json.loads(response.read() or b"{}")
        if status != 202 or time.monotonic() > deadline:
            return status, answer
        RESENDS[0] += 1
        time.sleep(0.2)


RESENDS = [0]


def test_upload_with_certificate_or_token_is_idempotent_and_stored(gateway: Gateway) -> None:
    bundle = gateway.pair("badge-1")
    token = json.loads((bundle.cert.parent / "enrolment.json").read_text())["upload_token"]
    sid = uuid.uuid4().hex
    payloads = pcm16_audio(np.linspace(-0.3, 0.3, 16000), frame_ms=100).payloads
    base = f"/api/v1/badges/badge-1/sessions/{sid}"
    by_cert = connection(gateway, bundle, with_cert=True)
    status, _ = put(by_cert, base, encode_control(SessionStart(sid, "rep-1", time.time())))
    assert status == 200
    RESENDS[0] = 0  # from here on every resend is a frame
    for seq, payload in enumerate(payloads):
        frame = encode_frame(AudioFrame(sid, seq, seq * 100, Codec.PCM16, 16000, 1,
                                        seq == len(payloads) - 1, payload))
        conn = by_cert if seq % 2 else connection(gateway, bundle, with_cert=False)
        status, ack = put(conn, f"{base}/chunks/{seq}", frame, None if seq % 2 else token)
        assert status == 200 and ack["seq"] == seq, (status, ack, gateway.log())
        if seq == 3:  # the same chunk again (a retry after a lost answer): same answer
            assert put(by_cert, f"{base}/chunks/{seq}", frame) == (status, ack)
    assert ack["status"] == "finished"
    assert gateway.spooled(sid) == b"".join(payloads)
    assert gateway.conversation(sid)["duplicates"] == 1 + RESENDS[0]


def test_upload_refuses_strangers(gateway: Gateway) -> None:
    one, two = gateway.pair("badge-1"), gateway.pair("badge-2")
    token = json.loads((one.cert.parent / "enrolment.json").read_text())["upload_token"]
    sid = uuid.uuid4().hex
    start = encode_control(SessionStart(sid, "rep-1", time.time()))
    anonymous = connection(gateway, one, with_cert=False)
    assert put(anonymous, f"/api/v1/badges/badge-1/sessions/{sid}", start)[0] == 401
    assert put(anonymous, f"/api/v1/badges/badge-2/sessions/{sid}", start, token)[0] == 403
    other = connection(gateway, two, with_cert=True)  # badge-2's certificate for badge-1
    assert put(other, f"/api/v1/badges/badge-1/sessions/{sid}", start)[0] == 403
    frame = encode_frame(AudioFrame(sid, 1, 0, Codec.PCM16, 16000, 1, False, b"\0\0"))
    assert put(anonymous, f"/api/v1/badges/badge-1/sessions/{sid}/chunks/2", frame,
               token)[0] == 400  # seq differs from the URL
    assert put(anonymous, f"/api/v1/badges/badge-1/sessions/{sid}/chunks/1", b"junk",
               token)[0] == 400
    subprocess.run(gateway.cli("badge", "revoke", "badge-1"), check=True, capture_output=True)
    assert put(anonymous, f"/api/v1/badges/badge-1/sessions/{sid}", start, token)[0] == 403


def test_the_resume_point_survives_an_upload_server_restart(
        rig: tuple[Gateway, UploadServer]) -> None:
    gateway, server = rig
    bundle = gateway.pair("badge-2")
    sid = uuid.uuid4().hex
    payloads = pcm16_audio(np.linspace(-0.3, 0.3, 8000), frame_ms=100).payloads
    base = f"/api/v1/badges/badge-2/sessions/{sid}"
    conn = connection(gateway, bundle, with_cert=True)
    assert put(conn, base, encode_control(SessionStart(sid, "rep-1", time.time())))[0] == 200
    for seq, payload in enumerate(payloads[:3]):
        frame = encode_frame(AudioFrame(sid, seq, seq * 100, Codec.PCM16, 16000, 1, False,
                                        payload))
        assert put(conn, f"{base}/chunks/{seq}", frame)[0] == 200
    server.stop()  # a restart (an update, a crash) forgets every ack it saw
    server.start()

    def state() -> tuple[int, dict[str, object]]:
        fresh = connection(gateway, bundle, with_cert=True)
        fresh.request("GET", base)
        response = fresh.getresponse()
        return response.status, json.loads(response.read() or b"{}")

    code, answer = state()
    assert code == 200 and (answer["seq"], answer["status"]) == (2, "receiving"), answer
    # the badge resumes where the gateway's record says, and ends the session
    conn = connection(gateway, bundle, with_cert=True)
    last = len(payloads) - 1
    for seq in range(3, len(payloads)):
        frame = encode_frame(AudioFrame(sid, seq, seq * 100, Codec.PCM16, 16000, 1, seq == last,
                                        payloads[seq]))
        assert put(conn, f"{base}/chunks/{seq}", frame)[0] == 200
    server.stop()
    server.start()
    code, answer = state()
    assert code == 200 and (answer["seq"], answer["status"]) == (last, "finished"), answer
    assert gateway.spooled(sid) == b"".join(payloads)

