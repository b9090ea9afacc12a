"""Privacy commands of ``salestag-gateway``: a thin face over the access layer.

``audit verify|show|checkpoint``, ``subject find|export|correct|delete``, ``keys rotate``,
``retention sweep``. Each prints JSON and is audited with the acting person (``--actor``, else
``cli:<login>``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from gateway.config import Config
from gateway.errors import GatewayError

Add = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]
ConfigOf = Callable[[argparse.Namespace], Config]


@contextmanager
def _access(config: Config, config_path: Path | None = None) -> Iterator[Any]:
    from gateway.privacy.access import AccessLayer
    from gateway.service import Layout, open_privacy_for
    from gateway.store.db import open_db

    layout = Layout(config.data_dir)
    if not layout.db.exists():
        raise GatewayError(f"no database at {layout.db}: run `salestag-gateway init` first")
    privacy = open_privacy_for(config, config_path)
    db = open_db(layout.db)
    try:
        yield AccessLayer(db, privacy)
    finally:
        db.close()
        privacy.close()


def _print(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def _actor(args: argparse.Namespace) -> str:
    from gateway.privacy.cli_actor import cli_actor

    return cli_actor(args.actor)


def _subject(args: argparse.Namespace) -> dict[str, Any]:
    return {"phone": args.phone, "email": args.email, "customer_ref": args.customer_ref,
            "conversation_id": args.conversation}


def _add_subject_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--phone", help="a phone number the subject gave (any format)")
    parser.add_argument("--email", help="an e-mail address the subject gave")
    parser.add_argument("--customer-ref", help="the customer reference badges recorded")
    parser.add_argument("--conversation", help="a conversation id")


def _add_actor(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", help="who is acting, for the audit log "
                                        "(default: cli:<your login>)")


def register(add: Add, config_of: ConfigOf) -> None:
    """Add the privacy commands to the main parser through its ``add`` helper."""

    def cmd_audit(args: argparse.Namespace) -> int:
        with _access(config_of(args)) as access:
            if args.action == "verify":
                report = access.verify_audit(_actor(args))
                _print(report)
                return 0 if report["ok"] else 1
            if args.action == "checkpoint":
                _print(access.checkpoint(_actor(args)))
                return 0
            for entry in access.audit_entries(_actor(args), since_seq=args.since,
                                              limit=args.limit, object=args.object):
                print(json.dumps(entry, sort_keys=True))
        return 0

    audit = add("audit", cmd_audit, "verify or show the tamper-evident audit log")
    audit.add_argument("action", choices=("verify", "show", "checkpoint"),
                       help="verify the chain and signed checkpoints (exit 1 on any problem), "
                            "show entries as JSON lines, or sign a checkpoint now")
    audit.add_argument("--since", type=int, default=0, help="show: entries after this seq")
    audit.add_argument("--limit", type=int, default=100, help="show: at most this many")
    audit.add_argument("--object", help="show: only entries about this object, "
                                        "e.g. conversation:ID")
    _add_actor(audit)

    def cmd_subject(args: argparse.Namespace) -> int:
        actor = _actor(args)
        with _access(config_of(args)) as access:
            if args.action == "find":
                _print(access.find_subject(actor, **_subject(args)))
            elif args.action == "export":
                bundle = access.export_subject(actor, **_subject(args))
                text = json.dumps(bundle, indent=2, sort_keys=True, default=str) + "\n"
                if args.out:
                    fd = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        handle.write(text)
                    print(f"wrote {args.out} ({len(bundle['conversations'])} conversations)")
                else:
                    sys.stdout.write(text)
            elif args.action == "delete":
                if not args.yes:
                    raise GatewayError("deletion cannot be undone: add --yes to confirm")
                _print(access.delete_subject(actor, **_subject(args)))
            else:
                _print(_correct(access, actor, args))
        return 0

    subject = add("subject", cmd_subject,
                  "data-subject rights: find, export, correct or delete what the gateway holds")
    subject.add_argument("action", choices=("find", "export", "correct", "delete"),
                         help="find conversations, export them as a JSON bundle, correct a tag "
                              "or segment, or delete them (crypto-shred)")
    _add_subject_args(subject)
    subject.add_argument("--out", help="export: write the bundle to this new file (0600)")
    subject.add_argument("--yes", action="store_true", help="delete: confirm the deletion")
    subject.add_argument("--tag-index", type=int, help="correct: index of the tag to change "
                                                        "or remove")
    subject.add_argument("--new-tag", help="correct: the tag's corrected name")
    subject.add_argument("--remove", action="store_true", help="correct: remove the tag")
    subject.add_argument("--add-tag", help="correct: add this tag over --start..--end")
    subject.add_argument("--start", type=float, help="correct --add-tag: start second")
    subject.add_argument("--end", type=float, help="correct --add-tag: end second")
    subject.add_argument("--segment", type=int, help="correct: index of a transcript segment")
    subject.add_argument("--text", help="correct --segment: its corrected text")
    _add_actor(subject)

    def cmd_hold(args: argparse.Namespace) -> int:
        with _access(config_of(args)) as access:
            if args.action == "list":
                for item in access.list_conversations(_actor(args), limit=args.limit):
                    if item["status"] == "held":
                        print(json.dumps({k: item[k] for k in ("id", "badge_id", "rep_id",
                                                                "started_at")}))
                return 0
            if not args.conversation:
                raise GatewayError("release: name the conversation (--conversation ID)")
            _print(access.release_hold(_actor(args), args.conversation))
        return 0

    hold = add("hold", cmd_hold, "conversations held for missing consent: list or release")
    hold.add_argument("action", choices=("list", "release"),
                      help="list held conversations, or release one once consent is confirmed "
                           "(it becomes searchable and synced)")
    hold.add_argument("--conversation", help="release: the conversation id")
    hold.add_argument("--limit", type=int, default=1000, help="list: newest conversations to "
                                                              "look through")
    _add_actor(hold)

    def cmd_keys(args: argparse.Namespace) -> int:
        with _access(config_of(args)) as access:
            _print(access.rotate_keys(_actor(args)))
        return 0

    keys = add("keys", cmd_keys, "rotate the key-encryption key (re-wraps data keys only)")
    keys.add_argument("action", choices=("rotate",),
                      help="make a new KEK generation and re-wrap every data key under it")
    _add_actor(keys)

    def cmd_retention(args: argparse.Namespace) -> int:
        with _access(config_of(args)) as access:
            if args.dry_run:
                plan = access.retention_plan(now=args.now)
                _print({"steps": [asdict(step) for step in plan.steps],
                        "audit_cutoff": plan.audit_cutoff,
                        "disk_short_bytes": plan.disk_short_bytes})
            else:
                _print(access.sweep(_actor(args), now=args.now))
        return 0

    retention = add("retention", cmd_retention, "apply the retention policy now")
    retention.add_argument("action", choices=("sweep",), help="delete what retention says is due")
    retention.add_argument("--dry-run", action="store_true",
                           help="print what would be deleted, delete nothing")
    retention.add_argument("--now", type=float,
                           help="judge ages as of this unix time (default: the clock)")
    _add_actor(retention)


def _correct(access: Any, actor: str, args: argparse.Namespace) -> Any:
    if not args.conversation:
        raise GatewayError("correct needs --conversation")
    if args.segment is not None:
        if args.text is None:
            raise GatewayError("correct --segment needs --text")
        return access.correct_segment(actor, args.conversation, index=args.segment,
                                      text=args.text)
    if args.add_tag:
        return access.correct_tag(actor, args.conversation, action="add", tag=args.add_tag,
                                  start=args.start, end=args.end)
    action = "remove" if args.remove else "change"
    return access.correct_tag(actor, args.conversation, action=action, index=args.tag_index,
                              new_tag=args.new_tag)
