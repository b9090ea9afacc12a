"""Reference HQ tools: ``hq receive|keygen``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gateway.cli.common import Subcommands, add_command, add_group


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


def register(sub: Subcommands) -> None:
    hq_sub = add_group(sub, "hq", "reference HQ tools: receive envelopes, make tenant keys")
    receive = add_command(hq_sub, "receive", cmd_hq_receive,
                          "verify, decrypt and de-duplicate envelopes",
                          "Verify, decrypt and de-duplicate envelopes.")
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
    keygen = add_command(hq_sub, "keygen", cmd_hq_keygen, "make a tenant X25519 key pair",
                         "Make a tenant X25519 key pair.")
    keygen.add_argument("--private", required=True, help="private key file to write")
    keygen.add_argument("--public", required=True, help="public key file to write")
