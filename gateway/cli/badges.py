"""Badge commands: ``badge pair|list|revoke`` and the ``badge-sim`` badge simulator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gateway.cli.common import Subcommands, add_command, add_group, config_of


def cmd_badge_sim(args: argparse.Namespace) -> int:
    from gateway.ingest import badge_sim as sim
    from gateway.speech.audio import load_audio

    config = config_of(args)
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


def cmd_badge_pair(args: argparse.Namespace) -> int:
    from gateway.pki.pairing import pair_badge
    from gateway.store.db import open_db
    from gateway.store.layout import Layout

    config = config_of(args)
    layout = Layout(config.data_dir)
    db = open_db(layout.db)
    try:
        bundle = pair_badge(config, db, args.name, Path(args.out or layout.bundles))
    finally:
        db.close()
    print(f"badge {args.name} paired: bundle {bundle.directory} (QR code {bundle.qr})")
    return 0


def cmd_badge_list(args: argparse.Namespace) -> int:
    from gateway.ingest.health import badge_health
    from gateway.pki.registry import BadgeRegistry
    from gateway.store.db import open_db
    from gateway.store.layout import Layout

    db = open_db(Layout(config_of(args).data_dir).db)
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
    from gateway.store.layout import Layout

    config = config_of(args)
    db = open_db(Layout(config.data_dir).db)
    try:
        revoke_badge(config, db, args.name)
    finally:
        db.close()
    print(f"badge {args.name} revoked")
    return 0


def register(sub: Subcommands) -> None:
    _register_simulator(sub)
    badge_sub = add_group(sub, "badge", "pair, list and revoke badges")
    pair = add_command(badge_sub, "pair", cmd_badge_pair,
                       "issue a badge certificate and enrolment bundle",
                       "Issue a badge certificate and enrolment bundle.")
    pair.add_argument("name", help="badge id (1-64 of A-Z a-z 0-9 _ -), its MQTT identity")
    pair.add_argument("--out", help="folder for the bundle (default: DATA_DIR/bundles)")
    add_command(badge_sub, "list", cmd_badge_list, "paired badges with health, one JSON a line",
                "Paired badges with health, one JSON a line.")
    revoke = add_command(badge_sub, "revoke", cmd_badge_revoke, "refuse a badge from now on",
                         "Refuse a badge from now on (the broker reloads).")
    revoke.add_argument("name", help="badge id to revoke")


def _register_simulator(sub: Subcommands) -> None:
    sim = add_command(sub, "badge-sim", cmd_badge_sim, "stream a WAV file like a real badge")
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
