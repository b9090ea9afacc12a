"""The audit log detects an edited, removed, reordered or truncated entry, and a log rewritten
and re-signed with another key; checked on a real database file, also through the CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from privacy_support import Site, add_conversation, make_site

from gateway.cli import main
from gateway.crypto.identity import key_id
from gateway.store.audit import GENESIS, entry_hash
from gateway.sync.schema import checkpoint_signing_input


@pytest.fixture
def site(tmp_path: Path) -> Site:
    site = make_site(tmp_path / "data")
    add_conversation(site, "c1", ["We record this call for quality.", "Price is fine."])
    access = site.access
    for n in range(6):
        site.clock.now += 60
        access.get_conversation(f"user:u{n}", "c1")
        if n in (1, 4):
            assert access.checkpoint() is not None
    access.search("user:u9", "price")  # one entry after the last checkpoint
    assert access.verify_audit("user:auditor")["ok"]
    access.db.close()
    return site


def _tamper(site: Site, sql: str, *args: object) -> None:
    conn = sqlite3.connect(site.db_path)
    conn.execute(sql, args)
    conn.commit()
    conn.close()


def _verify(site: Site) -> list[str]:
    from gateway.privacy.access import AccessLayer
    from gateway.store.db import open_db

    db = open_db(site.db_path)
    try:
        report = AccessLayer(db, site.ctx).verify_audit("user:auditor")
    finally:
        db.close()
    return list(report["problems"])


def _seqs(site: Site) -> list[int]:
    conn = sqlite3.connect(site.db_path)
    seqs = [r[0] for r in conn.execute("SELECT seq FROM audit_log ORDER BY seq")]
    conn.close()
    return seqs


def _rechain(site: Site, sign: Callable[[bytes], bytes] | None, signer_id: str) -> None:
    """What an attacker with the database does: recompute every hash, re-sign checkpoints."""
    conn = sqlite3.connect(site.db_path)
    prev = GENESIS
    for seq, at, actor, action, obj, detail in conn.execute(
            "SELECT seq, at, actor, action, object, detail FROM audit_log ORDER BY seq"
            ).fetchall():
        digest = entry_hash(prev, seq, at, actor, action, obj, json.loads(detail))
        conn.execute("UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?",
                     [prev, digest, seq])
        prev = digest
    if sign is not None:
        for seq, entries, at in conn.execute(
                "SELECT seq, entries, at FROM audit_checkpoints").fetchall():
            head = conn.execute("SELECT hash FROM audit_log WHERE seq = ?",
                                [entries]).fetchone()[0]
            signature = sign(checkpoint_signing_input("gw-test", seq, head, entries, at))
            conn.execute("UPDATE audit_checkpoints SET head_hash = ?, signature = ?, "
                         "key_id = ? WHERE seq = ?", [head, signature.hex(), signer_id, seq])
    conn.commit()
    conn.close()


def test_untouched_log_verifies(site: Site) -> None:
    assert _verify(site) == []


def test_edited_entry_is_detected(site: Site) -> None:
    _tamper(site, "UPDATE audit_log SET actor = 'user:someone-else' WHERE seq = 3")
    assert any("entry 3 was altered" in p for p in _verify(site))


def test_removed_entry_is_detected(site: Site) -> None:
    _tamper(site, "DELETE FROM audit_log WHERE seq = 4")
    assert any("missing" in p for p in _verify(site))


def test_reordered_entries_are_detected(site: Site) -> None:
    conn = sqlite3.connect(site.db_path)
    a = conn.execute("SELECT at, actor, action, object, detail FROM audit_log WHERE seq = 2"
                     ).fetchone()
    b = conn.execute("SELECT at, actor, action, object, detail FROM audit_log WHERE seq = 5"
                     ).fetchone()
    for seq, row in ((2, b), (5, a)):
        conn.execute("UPDATE audit_log SET at = ?, actor = ?, action = ?, object = ?, "
                     "detail = ? WHERE seq = ?", [*row, seq])
    conn.commit()
    conn.close()
    problems = _verify(site)
    assert any("entry 2 was altered" in p for p in problems)
    assert any("entry 5 was altered" in p for p in problems)


def test_truncated_log_is_detected_by_its_checkpoint(site: Site) -> None:
    covered = sqlite3.connect(site.db_path).execute(
        "SELECT max(entries) FROM audit_checkpoints").fetchone()[0]
    _tamper(site, "DELETE FROM audit_log WHERE seq >= ?", covered - 1)
    assert any("truncated" in p for p in _verify(site))
    assert max(_seqs(site)) < covered


def test_rewritten_log_resigned_with_a_new_key_is_detected(site: Site) -> None:
    _tamper(site, "UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 3")
    forger = Ed25519PrivateKey.generate()
    from cryptography.hazmat.primitives import serialization

    raw = forger.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    _rechain(site, forger.sign, key_id(raw))
    problems = _verify(site)
    assert problems and all("signed by unknown key" in p for p in problems)
    # claiming the gateway's key id does not help: the signature does not verify
    _rechain(site, forger.sign, site.ctx.identity.key_id)
    assert any("invalid signature" in p for p in _verify(site))
    # and a rewritten chain that keeps the genuine signatures no longer matches them
    _rechain(site, None, site.ctx.identity.key_id)
    assert any("differs from what checkpoint" in p or "invalid signature" in p
               for p in _verify(site))


def test_pruned_log_still_verifies_from_its_anchor(site: Site) -> None:
    from gateway.privacy.access import AccessLayer
    from gateway.store.audit import AuditLog
    from gateway.store.db import open_db

    db = open_db(site.db_path)
    removed = AuditLog(db).prune_before(site.clock.now + 1)
    assert removed > 0
    access = AccessLayer(db, site.ctx)
    access.get_conversation("user:late", "c1")
    report = access.verify_audit("user:auditor")
    db.close()
    assert report["ok"], report["problems"]
    assert report["first_seq"] > 1


def test_cli_audit_verify_exit_code(site: Site, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{site.root}"\n[site]\ngateway_id = "gw-test"\n')
    assert main(["--config", str(config), "audit", "verify", "--actor", "user:auditor"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    _tamper(site, "UPDATE audit_log SET detail = '{}' WHERE seq = 2")
    assert main(["--config", str(config), "audit", "verify"]) == 1
    assert "entry 2 was altered" in capsys.readouterr().out
    assert main(["--config", str(config), "audit", "show", "--limit", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]


def test_cli_audit_commands_are_audited_through_the_access_layer(
        site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.store.audit import AuditLog
    from gateway.store.db import open_db

    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{site.root}"\n[site]\ngateway_id = "gw-test"\n')
    db = open_db(site.db_path)
    before = AuditLog(db).head()
    about_c1 = len(AuditLog(db).for_object("conversation:c1"))
    assert before is not None and about_c1 > 0
    for args in (["verify"], ["show", "--object", "conversation:c1"], ["checkpoint"]):
        assert main(["--config", str(config), "audit", *args, "--actor", "user:dpo"]) == 0
    checkpoint = AuditLog(db).latest_checkpoint()
    new = AuditLog(db).entries(since_seq=before.seq)
    db.close()
    assert [(e.actor, e.action, e.object, e.detail.get("content")) for e in new] == [
        ("user:dpo", "audit.verify", "audit", False),
        ("user:dpo", "audit.read", "conversation:c1", False),
        ("user:dpo", "audit.checkpoint", "audit", None)]
    assert new[0].detail["ok"] is True and new[1].detail["count"] == about_c1
    assert checkpoint is not None and checkpoint.entries == new[2].seq  # it covers the request
