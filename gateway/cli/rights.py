"""``subject find|export|correct|delete``: data-subject rights."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from gateway.cli.access import actor_of, add_actor, open_access, print_json
from gateway.cli.common import Subcommands, add_command, config_of
from gateway.errors import GatewayError


def cmd_subject(args: argparse.Namespace) -> int:
    actor = actor_of(args)
    with open_access(config_of(args)) as access:
        if args.action == "find":
            print_json(access.find_subject(actor, **_subject(args)))
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
            print_json(access.delete_subject(actor, **_subject(args)))
        else:
            print_json(_correct(access, actor, args))
    return 0


def _subject(args: argparse.Namespace) -> dict[str, Any]:
    return {"phone": args.phone, "email": args.email, "customer_ref": args.customer_ref,
            "conversation_id": args.conversation}


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


def register(sub: Subcommands) -> None:
    subject = add_command(sub, "subject", cmd_subject,
                          "data-subject rights: find, export, correct or delete what the "
                          "gateway holds")
    subject.add_argument("action", choices=("find", "export", "correct", "delete"),
                         help="find conversations, export them as a JSON bundle, correct a tag "
                              "or segment, or delete them (crypto-shred)")
    subject.add_argument("--phone", help="a phone number the subject gave (any format)")
    subject.add_argument("--email", help="an e-mail address the subject gave")
    subject.add_argument("--customer-ref", help="the customer reference badges recorded")
    subject.add_argument("--conversation", help="a conversation id")
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
    add_actor(subject)
