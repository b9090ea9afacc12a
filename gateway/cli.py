"""The ``salestag-gateway`` command line: parses arguments, calls the core, maps errors to exits."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway import __version__
from gateway.config import DEFAULT_CONFIG, Config, ConfigError, load_config, render_toml
from gateway.errors import GatewayError
from gateway.local_settings import effective_config
from gateway.logsetup import configure_logging

log = logging.getLogger("gateway")


def _config(args: argparse.Namespace) -> Config:
    """The config file (see :func:`_config_file`) with the settings changed on this gateway."""
    return effective_config(_config_file(args))


def _config_file(args: argparse.Namespace) -> Path | None:
    """The config file named on the command line, else $SALESTAG_CONFIG, else the system
    default if it exists."""
    path = args.config or os.environ.get("SALESTAG_CONFIG")
    if path:
        return Path(path)
    return DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None


def cmd_check_config(args: argparse.Namespace) -> int:
    load_config(Path(args.file))
    print(f"{args.file}: OK")
    return 0


def cmd_config_defaults(args: argparse.Namespace) -> int:
    print(render_toml(Config()), end="")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from gateway.service import initialize

    for line in initialize(_config(args)):
        print(line)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.service import run_service

    return run_service(_config(args), config_file=_config_file(args))


def cmd_provision(args: argparse.Namespace) -> int:
    from gateway.appliance import provision

    config = _config(args)
    result = provision(config, Path(args.credstore), owner=args.owner,
                       broker_group=args.broker_group)
    print(f"gateway {config.site.gateway_id}: created "
          f"{', '.join(result.created) if result.created else 'nothing (already provisioned)'}")
    print(f"gateway signing key id: {result.signing_key_id}")
    if result.setup_code:
        print(f"SETUP CODE: {result.setup_code}  (type it into the web UI's setup wizard)")
        log.info("a one-time setup code was printed to the console")
    return 0


def cmd_capture(args: argparse.Namespace) -> int:
    from gateway.service import record_microphone

    config = _config(args)
    if args.device is not None:
        config.capture.device = args.device
    if args.rate:
        config.capture.sample_rate = args.rate
    frames = args.frames or max(1, int(args.seconds * 1000) // config.capture.frame_ms)
    stats = record_microphone(config, frames)
    print(json.dumps({"frames": stats.frames, "conversations": stats.sessions}))
    return 0


def cmd_capture_devices(args: argparse.Namespace) -> int:
    from gateway.ingest.capture import input_devices

    for index, name, channels in input_devices():
        print(f"{index}\t{name}\t{channels} input channels")
    return 0


def cmd_badge_sim(args: argparse.Namespace) -> int:
    from gateway.ingest import badge_sim as sim
    from gateway.speech.audio import load_audio

    config = _config(args)
    host, port, badge_id, tls = config.broker.host, config.broker.port, args.badge_id, None
    if args.bundle:
        bundle = Path(args.bundle)
        enrolment = json.loads((bundle / "enrolment.json").read_text(encoding="utf-8"))
        host, port = enrolment["broker"]["host"], enrolment["broker"]["port"]
        badge_id, tls = args.badge_id or enrolment["badge_id"], sim.TlsBundle.from_dir(bundle)
    wav = Path(args.wav)
    if args.codec == "opus" and wav.suffix in (".opus", ".ogg"):
        audio = sim.ogg_opus_audio(wav)
    else:
        samples = load_audio(wav).samples
        audio = (sim.opus_audio(samples, channels=args.channels) if args.codec == "opus"
                 else sim.pcm16_audio(samples, frame_ms=args.frame_ms, channels=args.channels))
    badge = sim.BadgeSimulator(host=args.host or host, port=args.port or port,
                               site=args.site or config.site.id, badge_id=badge_id or "badge-sim",
                               tls=tls, resend_after_s=args.resend_after)
    try:
        if args.wait_gateway > 0:
            badge.wait_for_gateway(args.wait_gateway)
        result = badge.stream_audio(audio, rep_id=args.rep_id, realtime=not args.fast,
                                    wait_acked_s=args.wait_acked)
    finally:
        badge.close()
    print(json.dumps({"session_id": result.session_id, "frames": result.frames,
                      "resent": result.resent, "seconds": round(result.seconds, 3)}))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from gateway.service import run_ingest_only

    return run_ingest_only(_config(args))


def cmd_badge_pair(args: argparse.Namespace) -> int:
    from gateway.pki.pairing import pair_badge
    from gateway.store.db import open_db

    config = _config(args)
    db = open_db(config.data_dir / "gateway.db")
    try:
        bundle = pair_badge(config, db, args.name, Path(args.out or config.data_dir / "bundles"))
    finally:
        db.close()
    print(f"badge {args.name} paired: bundle {bundle.directory} (QR code {bundle.qr})")
    return 0


def cmd_badge_list(args: argparse.Namespace) -> int:
    from gateway.ingest.health import badge_health
    from gateway.pki.registry import BadgeRegistry
    from gateway.store.db import open_db

    db = open_db(_config(args).data_dir / "gateway.db")
    try:
        health = {h.badge_id: h for h in badge_health(db)}
        for badge in BadgeRegistry(db).all():
            state = health[badge.id].as_dict() if badge.id in health else {}
            print(json.dumps({"badge_id": badge.id, "active": badge.active,
                              "paired_at": badge.paired_at, "revoked_at": badge.revoked_at,
                              "cert_not_after": badge.cert_not_after,
                              "cert_sha256": badge.cert_fingerprint,
                              **{k: v for k, v in state.items() if k != "badge_id"}}))
    finally:
        db.close()
    return 0


def cmd_badge_revoke(args: argparse.Namespace) -> int:
    from gateway.pki.pairing import revoke_badge
    from gateway.store.db import open_db

    config = _config(args)
    db = open_db(config.data_dir / "gateway.db")
    try:
        revoke_badge(config, db, args.name)
    finally:
        db.close()
    print(f"badge {args.name} revoked")
    return 0


def cmd_badge_server(args: argparse.Namespace) -> int:
    from webui.badge_server import serve_badges

    return serve_badges(_config(args))


def cmd_models(args: argparse.Namespace) -> int:
    from gateway.speech import catalogue

    models_dir = Path(args.models_dir) if args.models_dir else _config(args).data_dir / "models"
    if args.name == "minilm":
        from gateway.cli_tag import text_models

        return text_models(args.action, args.name, models_dir, sys.stdout)
    if args.action == "install":
        for model in catalogue.install(models_dir, args.name, quants=args.quant or ("q8_0", "f16")):
            print(f"{model.name} {model.quant} {model.path} sha256={model.sha256}")
        return 0
    if args.action == "list":
        for model in catalogue.installed(models_dir):
            print(f"{model.name} {model.quant} {model.size} bytes {model.path}")
        return 0
    failed = 0
    for model, ok in catalogue.verify(models_dir):
        print(f"{model.name} {model.quant} {'OK' if ok else 'MISMATCH'} {model.path}")
        failed += not ok
    return 1 if failed else 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from gateway.speech.analyze import analyze_files
    from gateway.speech.factory import build_pipeline

    config = _config(args)
    if args.model:
        config.speech.model_path = args.model
    if args.threads:
        config.speech.threads = args.threads
    return analyze_files(args.files, build_pipeline(config), sys.stdout)


def cmd_conversations(args: argparse.Namespace) -> int:
    from gateway.service import show_conversations

    return show_conversations(_config(args), args.id, latest=args.latest, wait_s=args.wait,
                              limit=args.limit, out=sys.stdout)


def cmd_hq_receive(args: argparse.Namespace) -> int:
    from gateway.sync.hq import ReceiveOptions, receive_main

    def path(value: str | None) -> Path | None:
        return Path(value) if value else None

    return receive_main(ReceiveOptions(
        host=args.host, port=args.port, private_keys=[Path(p) for p in args.key],
        signers=[Path(p) for p in args.signer],
        audit_signers=[Path(p) for p in args.audit_signer or []], db=path(args.db),
        jsonl=path(args.jsonl), count=args.count, timeout=args.timeout,
        share_group=args.share_group, client_id=args.client_id, ca_file=path(args.ca),
        cert_file=path(args.tls_cert), key_file=path(args.tls_key), tls=args.tls))


def cmd_hq_keygen(args: argparse.Namespace) -> int:
    from gateway.crypto.identity import generate_tenant_keypair

    generate_tenant_keypair(Path(args.private), Path(args.public))
    print(f"wrote {args.private} (keep at HQ) and {args.public} (give to gateways)")
    return 0


def cmd_web(args: argparse.Namespace) -> int:
    from webui.server import serve

    return serve(_config(args), _config_file(args), renew_code=args.new_setup_code)


def cmd_user_reset_password(args: argparse.Namespace) -> int:
    from gateway.accounts.admin import reset_password

    reset_password(_config(args), args.name, password_file=args.password_file)
    print(f"password of {args.name} changed; the account is unlocked and signed out everywhere")
    return 0


def cmd_user_add(args: argparse.Namespace) -> int:
    from gateway.accounts.admin import add_user

    add_user(_config(args), args.name, args.role, password_file=args.password_file)
    print(f"{args.role} {args.name} added")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="salestag-gateway",
        description="Transcribe and tag sales-badge audio on the device; sync sealed metadata.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help=f"config file (default: $SALESTAG_CONFIG or "
                                         f"{DEFAULT_CONFIG}, else built-in defaults)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug detail")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="what to do")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str
            ) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help, description=help)
        command.set_defaults(func=func)
        return command

    add("run", cmd_run, "run the gateway service (ingest, transcription, sync)")
    add("init", cmd_init, "create the data directory, keys and the local broker's config")
    check = add("check-config", cmd_check_config, "validate a config file and exit")
    check.add_argument("file", help="TOML config file")
    add("config-defaults", cmd_config_defaults, "print every setting with its default and help")

    prov = add("provision", cmd_provision,
               "first boot (as root): keys and local CA in the credential store, setup code")
    prov.add_argument("--credstore", default="/etc/credstore/salestag",
                      help="root-only folder for the keys (default: /etc/credstore/salestag)")
    prov.add_argument("--owner", help="service user to hand the data directory to")
    prov.add_argument("--broker-group", help="group of the broker, which shares its folder")

    cap = add("capture", cmd_capture,
              "record the local microphone into one conversation (count frames or seconds)")
    cap.add_argument("--seconds", type=float, default=10.0,
                     help="how long to record (default: 10)")
    cap.add_argument("--frames", type=int, help="record exactly this many frames instead")
    cap.add_argument("--device", help="input device name or index (default: from config)")
    cap.add_argument("--rate", type=int, help="sample rate in Hz (default: from config)")
    add("capture-devices", cmd_capture_devices, "list the sound input devices")

    sim = add("badge-sim", cmd_badge_sim, "stream a WAV file like a real badge")
    sim.add_argument("--wav", required=True,
                     help="audio file to stream (with --codec opus, an Ogg/Opus file is sent "
                          "packet by packet as it is)")
    sim.add_argument("--bundle", help="pairing bundle folder: connect over TLS with its "
                                      "certificate to the broker it names")
    sim.add_argument("--host", help="broker address (default: from the bundle or config)")
    sim.add_argument("--port", type=int, help="broker port (default: from the bundle or config)")
    sim.add_argument("--site", help="site id (default: from config)")
    sim.add_argument("--badge-id", help="badge id (default: the bundle's, else badge-sim)")
    sim.add_argument("--rep-id", default="rep-demo", help="sales rep id (default: rep-demo)")
    sim.add_argument("--codec", choices=("pcm16", "opus"), default="pcm16",
                     help="audio codec on the wire (default: pcm16)")
    sim.add_argument("--channels", type=int, choices=(1, 2), default=1,
                     help="1, or 2 like a two-mic badge (rep and customer) (default: 1)")
    sim.add_argument("--fast", action="store_true", help="send as fast as the broker acks")
    sim.add_argument("--frame-ms", type=int, default=100,
                     help="PCM16 frame length (default: 100; Opus frames are 20 ms)")
    sim.add_argument("--resend-after", type=float, default=5.0, metavar="SECONDS",
                     help="resend unacked frames when acks stall this long; they are also "
                          "resent after a reconnect or a gateway restart (default: 5)")
    sim.add_argument("--wait-acked", type=float, default=300.0, metavar="SECONDS",
                     help="how long to wait for the gateway to ack everything (default: 300)")
    sim.add_argument("--wait-gateway", type=float, default=60.0, metavar="SECONDS",
                     help="wait this long for the gateway to be online; 0 to not wait "
                          "(default: 60)")

    add("ingest", cmd_ingest, "run only the badge ingest (no transcription or sync)")
    add("badge-server", cmd_badge_server,
        "serve the badges' Wi-Fi upload API over HTTPS (client certificate or token)")
    badge = add("badge", lambda a: 2, "pair, list and revoke badges")
    badge_sub = badge.add_subparsers(dest="badge_command", required=True,
                                     metavar="BADGE_COMMAND", help="what to do")
    pair = badge_sub.add_parser("pair", help="issue a badge certificate and enrolment bundle",
                                description="Issue a badge certificate and enrolment bundle.")
    pair.set_defaults(func=cmd_badge_pair)
    pair.add_argument("name", help="badge id (1-64 of A-Z a-z 0-9 _ -), its MQTT identity")
    pair.add_argument("--out", help="folder for the bundle (default: DATA_DIR/bundles)")
    listing = badge_sub.add_parser("list", help="paired badges with health, one JSON a line",
                                   description="Paired badges with health, one JSON a line.")
    listing.set_defaults(func=cmd_badge_list)
    revoke = badge_sub.add_parser("revoke", help="refuse a badge from now on",
                                  description="Refuse a badge from now on (the broker reloads).")
    revoke.set_defaults(func=cmd_badge_revoke)
    revoke.add_argument("name", help="badge id to revoke")

    web = add("web", cmd_web, "serve the web UI over HTTPS (prints its address and, before "
                              "the first account exists, a one-time setup code)")
    web.add_argument("--new-setup-code", action="store_true",
                     help="replace a lost setup code with a new one (only before setup)")
    user = add("user", lambda a: 2, "web UI accounts: reset a password, add an account")
    user_sub = user.add_subparsers(dest="user_command", required=True, metavar="USER_COMMAND",
                                   help="what to do")
    reset = user_sub.add_parser("reset-password", help="set a new password and unlock",
                                description="Set a new password for a web UI account, unlock "
                                            "it and end its sessions.")
    reset.set_defaults(func=cmd_user_reset_password)
    reset.add_argument("name", help="user name")
    reset.add_argument("--password-file", help="read the new password from this file "
                                               "(default: ask twice on the terminal)")
    user_add = user_sub.add_parser("add", help="add a web UI account",
                                   description="Add a web UI account.")
    user_add.set_defaults(func=cmd_user_add)
    user_add.add_argument("name", help="user name")
    user_add.add_argument("--role", required=True, choices=("installer", "manager", "auditor"),
                          help="what the account may do")
    user_add.add_argument("--password-file", help="read the password from this file "
                                                  "(default: ask twice on the terminal)")

    models = add("models", cmd_models,
                 "install, list or verify offline speech models (and the tagger's minilm)")
    models.add_argument("action", choices=("install", "list", "verify"),
                        help="install a model, list installed ones, or re-check their hashes")
    models.add_argument("name", nargs="?", default="tiny.en",
                        choices=("tiny.en", "base", "minilm"),
                        help="model (default: tiny.en; minilm: the semantic tagger's text model)")
    models.add_argument("--quant", action="append", choices=("q8_0", "f16", "ct2"),
                        help="quantization to install (repeatable; default: q8_0 and f16; "
                        "ct2 is the CTranslate2 model for the faster-whisper engine)")
    models.add_argument("--models-dir", help="model folder (default: DATA_DIR/models)")

    analyze = add("analyze", cmd_analyze, "transcribe and tag local audio files")
    analyze.add_argument("files", nargs="+", metavar="FILE", help="audio files (WAV, FLAC, Ogg)")
    analyze.add_argument("--json", action="store_true", required=True,
                         help="print one JSON object per file per line")
    analyze.add_argument("--model", help="ggml model file (default: from config)")
    analyze.add_argument("--threads", type=int, help="whisper.cpp threads")

    conv = add("conversations", cmd_conversations, "show conversations stored on this gateway")
    conv.add_argument("id", nargs="?", help="conversation id (default: list recent ones)")
    conv.add_argument("--latest", action="store_true", help="show the newest conversation")
    conv.add_argument("--wait", type=float, default=0.0,
                      help="wait up to this many seconds for it to be transcribed")
    conv.add_argument("--limit", type=int, default=20, help="how many to list")

    hq = add("hq", lambda a: 2, "reference HQ tools: receive envelopes, make tenant keys")
    hq_sub = hq.add_subparsers(dest="hq_command", required=True, metavar="HQ_COMMAND",
                               help="what to do")
    receive = hq_sub.add_parser("receive", help="verify, decrypt and de-duplicate envelopes",
                                description="Verify, decrypt and de-duplicate envelopes.")
    receive.set_defaults(func=cmd_hq_receive)
    receive.add_argument("--host", default="127.0.0.1", help="HQ broker address")
    receive.add_argument("--port", type=int, default=1883, help="HQ broker port")
    receive.add_argument("--key", action="append", required=True,
                         help="tenant X25519 private key file (repeatable, for key rotation)")
    receive.add_argument("--signer", action="append", required=True,
                         help="trusted gateway public key file (repeatable)")
    receive.add_argument("--audit-signer", action="append",
                         help="trusted gateway audit-checkpoint key file (repeatable); "
                              "checkpoint signatures are verified when given")
    receive.add_argument("--db", help="SQLite file to store envelopes in (share it between "
                                      "consumers so de-duplication holds across them)")
    receive.add_argument("--jsonl", help="append each new envelope to this JSON Lines file "
                                         "instead of stdout")
    receive.add_argument("--share-group",
                         help="MQTT v5 shared subscription group: consumers in one group "
                              "split the load")
    receive.add_argument("--client-id", default="salestag-hq",
                         help="MQTT client id (unique per consumer; its session persists)")
    receive.add_argument("--tls", action="store_true", help="connect with TLS")
    receive.add_argument("--ca", help="CA bundle for the HQ broker's certificate (implies --tls)")
    receive.add_argument("--tls-cert", help="client certificate for the HQ broker (PEM)")
    receive.add_argument("--tls-key", help="private key of --tls-cert (PEM, mode 0600)")
    receive.add_argument("--count", type=int, help="exit after this many envelopes")
    receive.add_argument("--timeout", type=float, help="exit after this many idle seconds")
    keygen = hq_sub.add_parser("keygen", help="make a tenant X25519 key pair",
                               description="Make a tenant X25519 key pair.")
    keygen.set_defaults(func=cmd_hq_keygen)
    keygen.add_argument("--private", required=True, help="private key file to write")
    keygen.add_argument("--public", required=True, help="public key file to write")
    from gateway.cli_privacy import register as register_privacy

    register_privacy(add, _config)
    from gateway.cli_tag import register as register_tag

    register_tag(add, _config)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.umask(0o077)  # keys, database and spool are the gateway's alone
    configure_logging(verbose=args.verbose)  # journald fields under systemd, else stderr
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print("config error:\n  " + "\n  ".join(exc.problems), file=sys.stderr)
        return 2
    except GatewayError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
