"""Wires the adapters to the logic and owns the process's lifecycle."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from gateway.config import Config
from gateway.crypto.datakeys import KeyStore
from gateway.crypto.identity import GatewayIdentity
from gateway.errors import GatewayError
from gateway.health import StatusBoard, status_path
from gateway.ingest.capture import CaptureStats
from gateway.ingest.recorder import Recorder
from gateway.local_settings import SettingsWatch, effective_config, read_local
from gateway.notify import Notifier, watchdog_interval_s
from gateway.protocol.assembler import Assembler
from gateway.store.conversations import (
    DONE,
    FAILED,
    Conversation,
    Conversations,
)
from gateway.store.db import open_db
from gateway.store.erasure import DELETED, HELD, PURGED
from gateway.store.errors import NotFound
from gateway.store.jobs import JobQueue
from gateway.store.layout import Layout
from gateway.store.spool import AudioSpool
from gateway.supervisor import Supervisor

log = logging.getLogger(__name__)

SETTLED = (HELD, PURGED, DELETED)  # no transcript to wait for
SETTINGS_CHECK_S = 2.0  #: how soon a changed setting is applied

if TYPE_CHECKING:
    from gateway.privacy.context import PrivacyContext


def initialize(config: Config) -> list[str]:
    """Create the data directory, keys, database and broker config; safe to run again."""
    layout = Layout(config.data_dir)
    layout.root.mkdir(parents=True, exist_ok=True)
    layout.root.chmod(0o711)  # the broker's own folder inside must be reachable; no listing
    KeyStore.open_or_create(layout.kek)
    identity = GatewayIdentity.load_or_create(layout.signing_key, config.site.gateway_id)
    if not layout.signing_public.exists():
        identity.export_public(layout.signing_public)
    open_db(layout.db).close()
    AudioSpool(layout.spool)
    from gateway.pki.broker_files import configure_broker
    from gateway.pki.webcert import ensure_web_cert

    broker_conf = configure_broker(config)
    web_cert = ensure_web_cert(config)
    return [f"data directory: {layout.root}",
            f"gateway signing key id: {identity.key_id} (public key: {layout.signing_public})",
            f"broker config: {broker_conf}", f"web UI certificate: {web_cert.cert}"]


def open_privacy_for(config: Config, config_path: Path | None = None) -> PrivacyContext:
    """The privacy layer's keys, vault and policies for this data directory."""
    from gateway.privacy.context import open_privacy

    layout = Layout(config.data_dir)
    return open_privacy(config, keys_dir=layout.keys, kek_path=layout.kek,
                        signing_key=layout.signing_key, signing_public=layout.signing_public,
                        spool_dir=layout.spool, config_path=config_path)


def run_service(config: Config, *, config_file: Path | None = None) -> int:
    """Run until SIGTERM/SIGINT; returns the process exit code.

    When the config file or the settings changed on the gateway (web UI) change, the service
    applies them without restarting: it stops its workers, takes the new settings and starts them
    again (the web UI's and upload API's process only when their own settings changed).
    Badges resend what was not acked meanwhile, and an interrupted transcription resumes.
    """
    notifier = Notifier()
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    data_dir = config.data_dir  # only the config file moves it, and not while running
    watch = SettingsWatch(config_file, data_dir)
    children = _start_children(config, config_file, stop)
    failed: str | None = None
    while True:
        generation = threading.Event()
        supervisor, privacy, board = _start_workers(config, generation)
        board.provide("settings", lambda: {"applied_at": watch.applied_at,
                                           "changed_here": sorted(read_local(data_dir))})
        notifier.ready(f"listening on {config.broker.host}:{config.broker.port}")
        log.info("gateway %s for site %s running", config.site.gateway_id, config.site.id)
        changed = _supervise(supervisor, children, notifier, board, config, config_file, watch,
                             stop)
        if changed is not None:
            notifier.reloading("applying changed settings")
            log.info("settings changed: restarting the workers with them")
        generation.set()
        supervisor.join()
        privacy.close()
        failed = supervisor.failed or (children.failed if children else None)
        if changed is None or failed:
            break
        if (changed.web, changed.upload) != (config.web, config.upload):
            if children is not None:
                children.stop.set()
                children.join()
            children = _start_children(changed, config_file, stop)
        config = changed
    notifier.stopping()
    log.info("stopping")
    stop.set()
    if children is not None:
        children.stop.set()
        children.join()
    return 1 if failed else 0


def _supervise(supervisor: Supervisor, children: Supervisor | None, notifier: Notifier,
               board: StatusBoard, config: Config, config_file: Path | None,
               watch: SettingsWatch, stop: threading.Event) -> Config | None:
    """Keep the workers running until the service stops (None) or its settings change (the
    new config)."""
    interval = min(watchdog_interval_s() or SETTINGS_CHECK_S, SETTINGS_CHECK_S)
    while not stop.wait(interval):
        supervisor.check()
        if children is not None:
            children.check()
        if supervisor.failed or (children is not None and children.failed):
            return None
        notifier.watchdog()
        _write_status(board, config)
        if watch.changed():
            try:
                changed = effective_config(config_file)
            except GatewayError as exc:
                log.error("the changed config file is not valid, keeping the running "
                          "settings: %s", exc)
                continue
            if changed != config:
                watch.applied_at = time.time()
                return changed
    return None


def _start_children(config: Config, config_file: Path | None,
                    stop: threading.Event) -> Supervisor | None:
    """The web UI and the badges' upload API, served by one child process (see
    gateway.children), under a supervisor with its own stop event."""
    from gateway.children import FACES, FACES_MODULE, child_command, run_child

    if not (config.web.enabled or config.upload.enabled):
        return None
    children = Supervisor(threading.Event())
    argv = child_command(config_file, FACES_MODULE)
    children.add(FACES, lambda s: run_child(FACES, argv, s))

    def follow() -> None:
        stop.wait()
        children.stop.set()

    threading.Thread(target=follow, name="children-stop", daemon=True).start()
    children.start()
    return children


def _start_workers(config: Config, stop: threading.Event
                   ) -> tuple[Supervisor, PrivacyContext, StatusBoard]:
    """Set up the data directory and start every worker of ``config`` under one supervisor."""
    from gateway.speech.factory import build_pipeline, model_name
    from gateway.worker import TranscriptionWorker, Upstream

    initialize(config)
    layout = Layout(config.data_dir)
    keys = KeyStore.load(layout.kek)
    spool = AudioSpool(layout.spool)
    pipeline = build_pipeline(config)
    db = open_db(layout.db)
    privacy = open_privacy_for(config)
    privacy.keys = keys
    privacy.vault.keys = keys
    privacy.vault.adopt(db)
    resumed = JobQueue(db).resume_interrupted()
    recorder = Recorder(site=config.site.id, keys=keys, conversations=Conversations(db),
                        jobs=JobQueue(db), spool=spool)
    recovered = recorder.recover(only=frozenset({config.capture.badge_id}))
    if resumed or recovered:
        log.info("resumed %d interrupted jobs and %d interrupted receptions", resumed, recovered)
    db.close()

    supervisor = Supervisor(stop)
    upstream = None
    if config.upstream.enabled:
        from gateway.sync.runner import OutboxSettings, load_recipients

        identity = GatewayIdentity.load_or_create(layout.signing_key, config.site.gateway_id)
        recipients = load_recipients(config)
        upstream = Upstream(identity, recipients, OutboxSettings.from_config(config))
        supervisor.add("upstream",
                       lambda s: _run_upstream(config, layout, identity, recipients, s))
    for n in range(config.workers):  # each worker its own engine: one model call at a time
        worker = TranscriptionWorker(db_path=layout.db, privacy=privacy,
                                     pipeline=pipeline if n == 0 else build_pipeline(config),
                                     upstream=upstream,
                                     keep_raw_audio=config.retention.raw_audio_days > 0)
        supervisor.add(f"transcribe-{n}", worker.run)
    supervisor.add("ingest", lambda s: _run_ingest(config, layout, keys, spool, s, privacy))
    _add_privacy_duties(supervisor, config, layout, privacy)
    board = StatusBoard()
    board.provide("workers", supervisor.status)
    board.provide("engine", lambda: {"engine": config.speech.engine, "threads": config.threads,
                                     "model": f"{model_name(config)} {config.speech.quant}",
                                     "tagger": "semantic" if pipeline.tagger else "rules"})
    if config.capture.enabled:
        supervisor.add("capture", lambda s: _capture_until(config, layout, keys, spool, s))
    supervisor.start()
    return supervisor, privacy, board


def _add_privacy_duties(supervisor: Supervisor, config: Config, layout: Layout,
                        privacy: PrivacyContext) -> None:
    """The retention sweeper and the signed audit checkpoints, each in its own thread."""
    from gateway.privacy.sweeper import Duty, duties, run_periodically

    def periodically(interval_s: float, duty: Duty) -> Callable[[threading.Event], None]:
        return lambda s: run_periodically(layout.db, privacy, interval_s, duty, s)

    for name, interval_s, duty in duties(config):
        supervisor.add(name, periodically(interval_s, duty))


def _write_status(board: StatusBoard, config: Config) -> None:
    """The snapshot the web UI's dashboard and /healthz read."""
    try:
        board.write(status_path(config.data_dir))
    except OSError as exc:
        log.warning("cannot write the status snapshot: %s", exc)


def _run_ingest(config: Config, layout: Layout, keys: KeyStore, spool: AudioSpool,
                stop: threading.Event, privacy: PrivacyContext | None = None) -> None:
    from gateway.ingest.runner import run_ingest

    run_ingest(config, layout.db, keys, spool, stop,
               skip_badges=frozenset({config.capture.badge_id}), privacy=privacy)


def run_ingest_only(config: Config) -> int:
    """Run just the badge ingest (no transcription or sync) until SIGTERM/SIGINT."""
    from gateway.ingest.runner import run_ingest

    initialize(config)
    layout = Layout(config.data_dir)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    run_ingest(config, layout.db, KeyStore.load(layout.kek), AudioSpool(layout.spool), stop)
    return 0


def _run_capture(config: Config, layout: Layout, keys: KeyStore, spool: AudioSpool,
                 stop: threading.Event, max_frames: int | None = None) -> CaptureStats:
    """Record the local microphone into conversations until ``stop`` (or ``max_frames``)."""
    from gateway.ingest.capture import CaptureFormat, MicCapture, SoundDeviceInput, parse_device

    fmt = CaptureFormat(sample_rate=config.capture.sample_rate,
                        channels=config.capture.channels, frame_ms=config.capture.frame_ms)
    db = open_db(layout.db)
    from gateway.privacy.context import VAULT_FILE
    from gateway.store.keyvault import KeyVault

    vault = KeyVault(layout.keys / VAULT_FILE, keys)  # data keys never in gateway.db
    recorder = Recorder(site=config.site.id, keys=keys, conversations=Conversations(db),
                        jobs=JobQueue(db), spool=spool, vault=vault)
    assembler = Assembler(session_timeout_s=config.ingest.session_timeout_s,
                          reorder_window=config.ingest.reorder_window)
    capture = MicCapture(open_input=lambda: SoundDeviceInput(parse_device(config.capture.device),
                                                             fmt),
                         assembler=assembler, recorder=recorder, fmt=fmt,
                         badge_id=config.capture.badge_id, rep_id=config.capture.badge_id,
                         session_s=config.capture.session_s)
    try:
        return capture.run(stop, max_frames=max_frames)
    finally:
        recorder.close()
        vault.close()
        db.close()


def _capture_until(config: Config, layout: Layout, keys: KeyStore, spool: AudioSpool,
                   stop: threading.Event) -> None:
    stats = _run_capture(config, layout, keys, spool, stop)
    log.info("local microphone stopped after %d frames", stats.frames)


def record_microphone(config: Config, frames: int) -> CaptureStats:
    """Record ``frames`` frames of the local microphone as one conversation (the CLI's capture)."""
    initialize(config)
    layout = Layout(config.data_dir)
    return _run_capture(config, layout, KeyStore.load(layout.kek), AudioSpool(layout.spool),
                        threading.Event(), max_frames=frames)


def _run_upstream(config: Config, layout: Layout, identity: GatewayIdentity,
                  recipients: list[X25519PublicKey], stop: threading.Event) -> None:
    from gateway.sync.runner import run_upstream

    run_upstream(config, layout.db, identity, recipients, stop)


def show_conversations(config: Config, conversation_id: str | None, *, latest: bool,
                       wait_s: float, limit: int, out: TextIO, actor: str) -> int:
    """Print conversations as JSON lines; with an id (or --latest) include transcript and tags.

    Both are reads through the access layer, audited under ``actor``; the transcript is
    audited as a content read (``conversation.read`` with ``content: true``)."""
    from gateway.privacy.access import AccessLayer
    from gateway.privacy.errors import ContentGone

    layout = Layout(config.data_dir)
    if not layout.db.exists():
        raise GatewayError(f"no database at {layout.db}: run `salestag-gateway init` first")
    db = open_db(layout.db)
    privacy = open_privacy_for(config)
    try:
        access = AccessLayer(db, privacy)
        if not conversation_id and not latest:
            for item in access.list_conversations(actor, limit=limit):
                out.write(json.dumps(item) + "\n")
            return 0
        conversation = _wait_until_settled(access.conversations, conversation_id, wait_s)
        record = access.get_conversation(actor, conversation.id)
    finally:
        privacy.close()
        db.close()
    if record["content"] == "deleted":
        raise ContentGone(f"the content of conversation {conversation.id} was deleted")
    out.write(json.dumps(record) + "\n")
    return 0


def _wait_until_settled(conversations: Conversations, conversation_id: str | None,
                        wait_s: float) -> Conversation:
    """The conversation (or the newest), once transcribed or failed or when time is up."""
    deadline = time.monotonic() + wait_s
    while True:
        recent = conversations.recent(1)
        target = conversation_id or (recent[0].id if recent else "")
        try:
            conversation = conversations.get(target)
        except NotFound:
            if time.monotonic() >= deadline:
                raise
        else:
            if conversation.status in (DONE, FAILED, *SETTLED) or time.monotonic() >= deadline:
                return conversation
        time.sleep(0.5)
