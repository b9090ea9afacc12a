"""The badges' Wi-Fi upload API: resumable, idempotent chunk upload over HTTPS.

A badge that recorded offline uploads its session when it reaches the store's Wi-Fi:

- ``PUT  /api/v1/badges/<badge_id>/sessions/<sid>``               body: its ``session_start`` JSON
- ``PUT  /api/v1/badges/<badge_id>/sessions/<sid>/chunks/<seq>``  body: one protocol v1 frame
- ``PUT  /api/v1/badges/<badge_id>/sessions/<sid>/stop``          body: its ``session_stop`` JSON
- ``GET  /api/v1/badges/<badge_id>/sessions/<sid>``               the last ack seen (resume point)

The badge authenticates with its client certificate (TLS) or ``Authorization: Bearer <token>``
(its upload token from pairing; only a hash is stored). Bodies go through the local broker on the
badge's own topics, so the one ingest thread that owns the assembler takes them like any MQTT
frame: same order, duplicate and gap handling, same durable spool and acks. (The web server runs
in its own processes, so an in-process queue could not reach the ingest thread; the broker is the
hand-off that already survives restarts.) The answer carries the gateway's ack: 200 once the frame
is stored, 202 while it is not yet (resend it later; a PUT is idempotent), 503 with Retry-After
when the gateway refuses the session for now.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from gateway.config import Config
from gateway.ingest.uplink import MqttUplink, Uplink
from gateway.pki.registry import BadgeRegistry
from gateway.protocol.acks import Ack
from gateway.protocol.control import SessionStart, SessionStop, parse_control
from gateway.protocol.errors import ProtocolError
from gateway.protocol.frames import HEADER_SIZE, MAX_PAYLOAD, decode_frame
from gateway.protocol.topics import TopicKind
from gateway.store.conversations import Conversations
from gateway.store.db import open_db
from gateway.store.layout import Layout

bp = Blueprint("badge_api", __name__, url_prefix="/api/v1/badges")
EXTENSION = "salestag.badge_api"


def _context() -> BadgeApiContext:
    context: BadgeApiContext = current_app.extensions[EXTENSION]
    return context


@dataclass
class BadgeApiContext:
    """What the blueprint needs: the config, the uplink and a database connection, each made
    on first use once per server process (after gunicorn forked it), shared by its threads."""

    config: Config
    uplink_factory: Any
    _uplink: Uplink | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _db: sqlite_utils.Database | None = None
    _db_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def uplink(self) -> Uplink:
        with self._lock:
            if self._uplink is None:
                self._uplink = self.uplink_factory(self.config)
            return self._uplink

    @contextmanager
    def database(self) -> Iterator[sqlite_utils.Database]:
        """This process's connection, for one thread at a time."""
        with self._db_lock:
            if self._db is None:
                self._db = open_db(Layout(self.config.data_dir).db, shared=True)
            yield self._db


def _error(status: int, message: str, **headers: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    response.headers.update(headers)
    return response


def _peer_fingerprint() -> str | None:
    """SHA-256 of the verified client certificate gunicorn's TLS socket holds, if any."""
    sock = request.environ.get("gunicorn.socket")
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    der = getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


def _authenticate(badge_id: str) -> Response | None:
    """None if the request speaks for ``badge_id`` (its certificate or its token)."""
    with _context().database() as db:
        registry = BadgeRegistry(db)
        fingerprint = _peer_fingerprint()
        if fingerprint is not None:
            if registry.check_certificate(badge_id, fingerprint):
                return None
            return _error(403, "this certificate does not belong to an active badge of this id")
        auth = request.headers.get("Authorization", "")
        if not auth.startswith("Bearer "):
            return _error(401, "a badge certificate or an upload token is required",
                          **{"WWW-Authenticate": "Bearer"})
        if registry.check_token(badge_id, auth[len("Bearer "):].strip()):
            return None
        return _error(403, "the token does not belong to an active badge of this id")


def _answer(ack: Ack | None, seq: int | None) -> Response:
    """200 once stored (or finished), 202 while not yet, 503 while the gateway refuses."""
    body = {"seq": None} if ack is None else {
        "session_id": ack.session_id, "seq": ack.seq, "status": ack.status,
        "reason": ack.reason, "retry_after_s": ack.retry_after_s}
    response = jsonify(body)
    if ack is not None and ack.status == "refused":
        response.status_code = 503
        response.headers["Retry-After"] = str(ack.retry_after_s or 60)
        return response
    stored = ack is not None and (ack.status == "finished" or seq is None
                                  or (ack.seq is not None and ack.seq >= seq))
    response.status_code = 200 if stored else 202
    return response


def _submit(badge_id: str, sid: str, kind: TopicKind, data: bytes, seq: int | None) -> Response:
    context = _context()
    return _answer(context.uplink.submit(badge_id, kind, data, sid, seq,
                                         context.config.upload.ack_wait_s), seq)


def _control(badge_id: str, sid: str, kind: type[SessionStart] | type[SessionStop]
             ) -> Response:
    denied = _authenticate(badge_id)
    if denied is not None:
        return denied
    data = request.get_data(cache=False)
    try:
        msg = parse_control(data)
    except ProtocolError as exc:
        return _error(400, f"{exc.reason}: {exc}")
    if not isinstance(msg, kind) or msg.session_id != sid:
        return _error(400, "the message does not match the URL")
    return _submit(badge_id, sid, TopicKind.CONTROL, data, None)


@bp.put("/<badge_id>/sessions/<sid>")
def start_session(badge_id: str, sid: str) -> Response:
    return _control(badge_id, sid, SessionStart)


@bp.put("/<badge_id>/sessions/<sid>/stop")
def stop_session(badge_id: str, sid: str) -> Response:
    return _control(badge_id, sid, SessionStop)


@bp.put("/<badge_id>/sessions/<sid>/chunks/<int:seq>")
def put_chunk(badge_id: str, sid: str, seq: int) -> Response:
    denied = _authenticate(badge_id)
    if denied is not None:
        return denied
    data = request.get_data(cache=False)
    try:
        frame = decode_frame(data)
    except ProtocolError as exc:
        return _error(400, f"{exc.reason}: {exc}")
    if frame.session_id != sid or frame.seq != seq:
        return _error(400, "the frame's session or seq does not match the URL")
    return _submit(badge_id, sid, TopicKind.AUDIO, data, seq)


@bp.get("/<badge_id>/sessions/<sid>")
def session_state(badge_id: str, sid: str) -> Response:
    denied = _authenticate(badge_id)
    if denied is not None:
        return denied
    ctx = _context()
    ack = ctx.uplink.last_ack(badge_id, sid) or _recorded_ack(ctx, badge_id, sid)
    response = _answer(ack, None)
    response.status_code = 200
    return response


def _recorded_ack(ctx: BadgeApiContext, badge_id: str, sid: str) -> Ack | None:
    """The ack the gateway's database stands for: what this process saw before a restart (or
    another server process saw) is still known."""
    with ctx.database() as db:
        reception = Conversations(db).reception(badge_id, sid)
    if reception is None:
        return None
    receiving, next_seq = reception
    return Ack(sid, next_seq - 1 if next_seq > 0 else None,
               "receiving" if receiving else "finished")


def install_badge_api(app: Flask, config: Config, uplink_factory: Any = None) -> None:
    """Register the blueprint; ``uplink_factory(config)`` makes the uplink on first use."""
    app.config["MAX_CONTENT_LENGTH"] = HEADER_SIZE + MAX_PAYLOAD
    app.extensions[EXTENSION] = BadgeApiContext(config, uplink_factory or MqttUplink)
    app.register_blueprint(bp)


def create_badge_app(config: Config, uplink_factory: Any = None) -> Flask:
    """An app with only the badge API, for the upload server that badges reach."""
    app = Flask(__name__)
    install_badge_api(app, config, uplink_factory)
    return app


__all__ = ["bp", "create_badge_app", "install_badge_api"]
