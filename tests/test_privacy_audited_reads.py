"""Every read of conversation data leaves the right audit entry: who read, what, which
conversation, and whether content (transcript text, tag evidence) was decrypted for them.
Checked for `salestag-gateway conversations` and for each page of the web UI."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from privacy_support import Site, add_conversation, make_site
from webui_support import BASE, Browser, add_user, csrf_of, make_app, seed_conversation

from gateway.cli import main
from gateway.config import Config
from gateway.privacy.cli_actor import cli_actor
from gateway.store.audit import AuditEntry, AuditLog
from gateway.store.db import open_db

WORDS = "zanzibar quokka"
LINES = [f"Honestly the price is too high for the {WORDS} budget.", "Call me next Tuesday."]
OTHER = ["We sell umbrellas in every colour.", "Thanks for coming in."]


def entries_after(db_path: Path, seq: int) -> list[AuditEntry]:
    db = open_db(db_path)
    try:
        return AuditLog(db).entries(since_seq=seq)
    finally:
        db.close()


def head_seq(db_path: Path) -> int:
    db = open_db(db_path)
    try:
        head = AuditLog(db).head()
    finally:
        db.close()
    return head.seq if head else 0


def summary(entry: AuditEntry) -> tuple[str, str, str, Any]:
    """(actor, action, object, content flag) of an entry."""
    return entry.actor, entry.action, entry.object, entry.detail.get("content")


# -- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli_site(tmp_path: Path) -> Iterator[tuple[Site, Path]]:
    site = make_site(tmp_path / "data")
    add_conversation(site, "c1", OTHER)
    add_conversation(site, "c2", LINES)
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{site.root}"\n[site]\ngateway_id = "gw-test"\n')
    yield site, config
    site.access.db.close()


def test_conversations_latest_is_audited_as_a_content_read(
        cli_site: tuple[Site, Path], capsys: pytest.CaptureFixture[str]) -> None:
    site, config = cli_site
    latest = site.access.conversations.recent(1)[0].id
    before = head_seq(site.db_path)
    assert main(["--config", str(config), "conversations", "--latest"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["id"] == latest and record["content"] == "available"
    assert record["segments"] and record["tags"] is not None
    [entry] = entries_after(site.db_path, before)
    assert summary(entry) == (cli_actor(), "conversation.read", f"conversation:{latest}", True)
    assert WORDS not in json.dumps(entry.detail)


def test_conversations_by_id_and_list_name_the_actor(
        cli_site: tuple[Site, Path], capsys: pytest.CaptureFixture[str]) -> None:
    site, config = cli_site
    before = head_seq(site.db_path)
    assert main(["--config", str(config), "conversations", "c2", "--actor", "user:coach"]) == 0
    assert WORDS in capsys.readouterr().out
    assert main(["--config", str(config), "conversations", "--actor", "user:coach"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(item["id"] for item in listed) == ["c1", "c2"]
    assert all("segments" not in item for item in listed)
    assert [summary(e) for e in entries_after(site.db_path, before)] == [
        ("user:coach", "conversation.read", "conversation:c2", True),
        ("user:coach", "conversation.list", "conversations", False)]


def test_a_deleted_conversation_is_refused_and_audited_without_content(
        cli_site: tuple[Site, Path], capsys: pytest.CaptureFixture[str]) -> None:
    site, config = cli_site
    site.access.delete_conversation("user:dpo", "c2")
    before = head_seq(site.db_path)
    assert main(["--config", str(config), "conversations", "c2", "--actor", "user:coach"]) == 1
    assert "deleted" in capsys.readouterr().err
    assert [summary(e) for e in entries_after(site.db_path, before)] == [
        ("user:coach", "conversation.read", "conversation:c2", False)]


# -- the web UI ------------------------------------------------------------------------------

CID = "c0ffee01"


@pytest.fixture
def web(tmp_path: Path) -> tuple[Flask, Config, Path]:
    app, config, _ = make_app(tmp_path)
    for name, role in (("ingrid", "installer"), ("mara", "manager"), ("otto", "auditor")):
        add_user(config, name, role)
    seed_conversation(config, CID, [("customer", LINES[0]), ("rep", LINES[1])],
                      [("objection.price", 0), ("next_step", 1)])
    return app, config, Path(config.data_dir) / "gateway.db"


def signed_in(app: Flask, user: str) -> Browser:
    b = Browser(app.test_client())
    assert b.login(user).status_code == 302
    return b


def _list(user: str, obj: str = "conversations") -> tuple[str, str, str, bool]:
    return (f"user:{user}", "conversation.list", obj, False)


# path, user -> the entries the page leaves, in order (none for pages that read no data)
PAGES: list[tuple[str, str, list[tuple[str, str, str, bool]]]] = [
    ("/", "ingrid", []),
    ("/dashboard/panel", "ingrid", []),
    ("/badges/", "ingrid", []),
    ("/settings/", "ingrid", []),
    ("/settings/users", "ingrid", []),
    ("/settings/password", "otto", []),
    ("/conversations/panel", "mara", [_list("mara")]),
    ("/conversations/", "mara", [_list("mara")]),
    ("/conversations/?q=price", "mara",
     [("user:mara", "conversation.search", "conversations", True)]),
    (f"/conversations/{CID}", "mara",
     [("user:mara", "conversation.read", f"conversation:{CID}", True)]),
    (f"/conversations/{CID}/delete", "mara", []),
    ("/privacy/", "mara", []),
    ("/privacy/consent", "otto", [_list("otto")]),
    (f"/privacy/consent/{CID}", "otto",
     [("user:otto", "consent.read", f"conversation:{CID}", False), _list("otto")]),
    ("/audit/", "otto", [("user:otto", "audit.read", "audit", False)]),
]


def test_each_page_leaves_the_right_audit_entry(web: tuple[Flask, Config, Path]) -> None:
    app, _, db_path = web
    browsers = {user: signed_in(app, user) for user in ("ingrid", "mara", "otto")}
    for path, user, expected in PAGES:
        before = head_seq(db_path)
        page = browsers[user].get(path)
        assert page.status_code == 200, path
        assert [summary(e) for e in entries_after(db_path, before)] == expected, path
    # the audit page shows what was recorded, content flags included
    body = browsers["otto"].get("/audit/?action=conversation.read").get_data(as_text=True)
    assert f"conversation:{CID}" in body and "content=True" in body


def post(b: Browser, db_path: Path, path: str, data: dict[str, str]) -> tuple[int, Any]:
    """Post a form with the session's CSRF token (taken from a page that audits nothing);
    returns the audit log's head before the post, and the response."""
    token = csrf_of(b.get("/settings/password").get_data(as_text=True))
    before = head_seq(db_path)
    return before, b.client.post(path, data={"csrf_token": token, **data}, base_url=BASE,
                                 headers={"Origin": BASE})


def test_each_form_leaves_the_right_audit_entry(web: tuple[Flask, Config, Path]) -> None:
    app, _, db_path = web
    mara, otto = signed_in(app, "mara"), signed_in(app, "otto")
    subject = {"conversation_id": CID}
    forms = [
        (otto, "/audit/verify", {},
         [("user:otto", "audit.verify", "audit", False),
          ("user:otto", "audit.read", "audit", False)]),
        (mara, "/privacy/find", subject,
         [("user:mara", "subject.find", f"subject:{CID}", False)]),
        (mara, "/privacy/export", subject,
         [("user:mara", "subject.export", f"subject:{CID}", True)]),
        (mara, f"/conversations/{CID}/tags",
         {"action": "change", "index": "0", "new_tag": "objection.timing"},
         [("user:mara", "tag.correct", f"conversation:{CID}", None)]),
        (mara, f"/conversations/{CID}/delete", {"confirm": "DELETE"},
         [("user:mara", "conversation.delete", f"conversation:{CID}", None),
          ("user:mara", "subject.delete", f"subject:{CID}", None)]),
    ]
    for b, path, data, expected in forms:
        before, response = post(b, db_path, path, data)
        assert response.status_code in (200, 302), path
        assert [summary(e) for e in entries_after(db_path, before)] == expected, path
    verify = [e for e in entries_after(db_path, 0) if e.action == "audit.verify"]
    assert verify[0].detail["ok"] is True and verify[0].detail["entries"] > 0


def test_audit_filters_are_audited_without_their_text(web: tuple[Flask, Config, Path]) -> None:
    app, _, db_path = web
    otto = signed_in(app, "otto")
    signed_in(app, "mara").get(f"/conversations/{CID}")
    body = otto.get("/audit/?actor=MARA&action=read").get_data(as_text=True)
    assert "user:mara" in body and "conversation.read" in body and "auth.login" not in body
    read = [e for e in entries_after(db_path, 0) if e.action == "audit.read"][-1]
    assert read.detail["filtered"] == ["action", "actor"] and "MARA" not in json.dumps(
        read.detail)


def test_the_web_ui_reaches_the_audit_log_only_through_the_access_layer() -> None:
    webui = Path(__file__).resolve().parent.parent / "webui"
    for source in webui.rglob("*.py"):
        text = source.read_text()
        for banned in ("gateway.store.audit", "AuditLog", "audit_log", "privacy.audit import"):
            assert banned not in text, (source.name, banned)
