"""Data-subject rights end to end over real SQLite files, real keys and real ciphertext:
find, export, correct and delete; crypto-shredding checked on the raw bytes of the database,
its WAL, the spool, the key vault and a backup taken before the deletion."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from privacy_support import Site, add_conversation, make_site

from gateway.crypto.content import open_content
from gateway.crypto.datakeys import KeyStore
from gateway.crypto.errors import IntegrityError
from gateway.crypto.identity import generate_tenant_keypair, load_tenant_private_key
from gateway.privacy.context import Upstream
from gateway.privacy.errors import BadSubject, CorrectionError
from gateway.store.db import open_db
from gateway.store.keyvault import KeyDestroyed, KeyVault
from gateway.sync.envelope import open_sealed

LINES = ["Just so you know, this conversation is being recorded.",
         "The zebra quokka package costs too much for us.",
         "Call me at five five five, two one two, four three six eight."]
OTHER = ["Hello there, we only sell umbrellas on Tuesdays."]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path / "data")


def _raw(paths: list[Path]) -> bytes:
    return b"".join(p.read_bytes() for p in paths if p.exists())


def test_find_export_correct_delete_with_notice_upstream(site: Site, tmp_path: Path) -> None:
    tenant_pub = generate_tenant_keypair(tmp_path / "t.key", tmp_path / "t.pub")
    site.ctx.upstream = Upstream(site.ctx.identity, [tenant_pub])
    access = site.access
    add_conversation(site, "c1", LINES, customer_ref="ACME-7731")
    add_conversation(site, "c2", OTHER)
    access.db.execute("INSERT INTO outbox (idempotency_key, conversation_id, topic, payload, "
                      "created_at, sent_at) VALUES ('conversation:c1>k', 'c1', 't', x'00', 1, 2)")

    # find: by the number as a person types it, by the badge's customer reference, by id
    for query in ({"phone": "+1 (555) 212-4368"}, {"customer_ref": "ACME-7731"},
                  {"conversation_id": "c1"}):
        found = access.find_subject("user:dpo", **query)
        assert [c["conversation_id"] for c in found["conversations"]] == ["c1"], query
    assert access.find_subject("user:dpo", email="nobody@example.com")["conversations"] == []
    with pytest.raises(BadSubject):
        access.find_subject("user:dpo")
    # the database holds no clear identifier, only keyed hashes
    raw = _raw([site.db_path, site.db_path.with_name("gateway.db-wal")])
    for clear in (b"5552124368", b"ACME-7731", b"zebra"):
        assert clear not in raw

    # export: a portable JSON bundle with the transcript
    bundle = access.export_subject("user:dpo", phone="555-212-4368")
    text = json.dumps(bundle)
    assert bundle["format"] == "salestag-subject-export"
    assert "zebra quokka" in text and "[PHONE]" in text and "umbrellas" not in text
    assert bundle["subject"]["subject_ref"] == access.find_subject(
        "user:dpo", phone="+1 555 212 4368")["subject_ref"]

    # correct: relabel, remove and add a tag; rewrite a segment (redacted again)
    tags = access.get_conversation("user:dpo", "c1")["tags"]
    price = next(t["index"] for t in tags if t["tag"] == "objection.price")
    access.correct_tag("user:manager", "c1", action="change", index=price,
                       new_tag="objection.timing")
    access.correct_tag("user:manager", "c1", action="add", tag="buying_signal", start=5, end=9)
    access.correct_tag("user:manager", "c1", action="remove", index=0)
    access.correct_segment("user:manager", "c1", index=1, text="Mail jane.doe@example.com")
    record = access.get_conversation("user:dpo", "c1")
    names = [t["tag"] for t in record["tags"]]
    assert "objection.timing" in names and "buying_signal" in names
    assert "objection.price" not in names
    assert record["segments"][1]["text"] == "Mail [EMAIL]"
    assert [(c["action"], c["by"]) for c in record["corrections"]] == [
        ("change", "user:manager"), ("add", "user:manager"), ("remove", "user:manager"),
        ("change", "user:manager")]
    with pytest.raises(CorrectionError):
        access.correct_tag("user:manager", "c1", action="change", index=99, new_tag="x.y")
    assert access.db.execute("SELECT count(*) FROM outbox WHERE idempotency_key "
                             "LIKE 'correction:%'").fetchone()[0] == 3

    # delete: crypto-shred, tombstone, deletion notice sealed for HQ
    result = access.delete_subject("user:dpo", customer_ref="ACME-7731")
    assert result["deleted"] == ["c1"] and result["notice_queued"]
    assert access.search("user:dpo", "zebra") == []
    assert access.search("user:dpo", "umbrellas")  # the other conversation is untouched
    gone = access.get_conversation("user:dpo", "c1")
    assert gone["status"] == "deleted" and gone["content"] == "deleted"
    assert gone["tombstone"]["by"] == "user:dpo" and "segments" not in gone
    assert not access.ctx.vault.has("c1")  # the data key is destroyed
    assert access.find_subject("user:dpo", phone="5552124368")["conversations"] == []
    payload = access.db.execute("SELECT payload FROM outbox WHERE idempotency_key LIKE "
                                "'deletion:%'").fetchone()[0]
    envelope = open_sealed(bytes(payload),
                           recipient_private_key=load_tenant_private_key(tmp_path / "t.key"),
                           trusted_signers={site.ctx.identity.key_id:
                                            site.ctx.identity.public_key()})
    assert envelope.kind == "deletion"
    assert envelope.body.conversation_ids == ("c1",)  # type: ignore[union-attr]
    assert envelope.body.reason == "subject_request"  # type: ignore[union-attr]
    assert access.db.execute("SELECT count(*) FROM outbox WHERE idempotency_key LIKE "
                             "'conversation:%'").fetchone()[0] == 0

    # every act is in the audit log with its actor, and the log verifies
    acts = [(e["actor"], e["action"]) for e in access.audit_entries("user:auditor",
                                                                    object="conversation:c1")]
    assert ("user:manager", "tag.correct") in acts and ("user:manager", "segment.correct") in acts
    assert ("user:dpo", "conversation.delete") in acts
    assert access.verify_audit("user:auditor")["ok"]


def test_deleted_content_is_unrecoverable_from_files_and_from_a_backup(site: Site,
                                                                       tmp_path: Path) -> None:
    add_conversation(site, "c1", LINES, keep_audio=True)
    add_conversation(site, "c2", OTHER, keep_audio=True)
    access, vault = site.access, site.ctx.vault
    blobs = [bytes(r[0]) for r in access.db.execute(
        "SELECT text_ct FROM segments WHERE conversation_id = 'c1'").fetchall()]
    wrapped = vault.wrapped("c1")
    spool_record = site.ctx.spool.path("c1").read_bytes()[4:60]
    assert blobs and len(wrapped) == 61

    # a backup of the database, its WAL and the spool, as an operator would take it
    backup = tmp_path / "backup"
    backup.mkdir()
    for name in ("gateway.db", "gateway.db-wal"):
        if (site.root / name).exists():
            shutil.copy(site.root / name, backup / name)
    shutil.copytree(site.root / "spool", backup / "spool")
    backup_raw = _raw([backup / "gateway.db", backup / "gateway.db-wal"])
    assert blobs[0] in backup_raw  # the backup holds the ciphertext ...
    assert wrapped not in backup_raw  # ... but never a data key
    # while the key exists the backup's ciphertext opens (so the check below can fail)
    key = vault.data_key("c1")
    assert open_content(key, blobs[0], b"c1:seg:0") == LINES[0].encode()

    access.delete_conversation("user:dpo", "c1")
    access.db.close()

    live = _raw([site.root / "gateway.db", site.root / "gateway.db-wal",
                 *sorted((site.root / "spool").iterdir())])
    for blob in blobs:
        assert blob not in live  # secure_delete zeroed the pages, the WAL was truncated
    assert spool_record not in live and not site.ctx.spool.path("c1").exists()
    vault_raw = _raw([site.root / "keys" / "datakeys.db",
                      site.root / "keys" / "datakeys.db-journal"])
    assert wrapped not in vault_raw and vault.wrapped("c2")  # the other key is still there
    for word in (b"zebra", b"quokka", b"recorded"):
        assert word not in live and word not in vault_raw and word not in backup_raw

    # the backup: its rows are still there, its key is nowhere
    old = sqlite3.connect(backup / "gateway.db")
    rows = old.execute("SELECT text_ct FROM segments WHERE conversation_id = 'c1'").fetchall()
    row_key = old.execute("SELECT wrapped_key FROM conversations WHERE id = 'c1'").fetchone()
    old.close()
    assert rows and row_key == (None,)
    with pytest.raises(KeyDestroyed):
        vault.data_key("c1")
    reopened = KeyVault(site.root / "keys" / "datakeys.db", KeyStore.load(
        site.root / "keys" / "kek.key"))
    with pytest.raises(KeyDestroyed):
        reopened.data_key("c1")
    reopened.close()
    # the other conversation still opens from the same files
    db = open_db(site.root / "gateway.db")
    from gateway.store.conversations import Conversations

    assert Conversations(db).segments("c2", vault.data_key("c2"))[0].text == OTHER[0]
    db.close()


def test_keys_rotate_rewraps_without_reencrypting(site: Site) -> None:
    add_conversation(site, "c1", LINES)
    kek_path = site.root / "keys" / "kek.key"
    old_kek = kek_path.read_bytes()
    before = site.access.db.execute("SELECT text_ct FROM segments ORDER BY idx").fetchall()
    old_wrapped = site.ctx.vault.wrapped("c1")
    result = site.access.rotate_keys("user:admin")
    assert result == {"generation": 2, "rewrapped": 1, "keys": 1}
    assert site.access.db.execute(
        "SELECT text_ct FROM segments ORDER BY idx").fetchall() == before
    assert site.ctx.vault.wrapped("c1") != old_wrapped and site.ctx.vault.generations() == {2: 1}
    assert kek_path.read_bytes()[0] == 2 and old_kek not in kek_path.read_bytes()
    assert site.access.get_conversation("user:dpo", "c1")["segments"][1]["text"] == LINES[1]
    # the old generation alone no longer opens anything
    with pytest.raises(IntegrityError):
        KeyStore(old_kek).unwrap(site.ctx.vault.wrapped("c1"), context=b"c1")
    site.access.rotate_keys("user:admin")
    assert site.ctx.vault.generations() == {3: 1}
    assert KeyStore.load(kek_path).generation == 3


def test_legacy_row_keys_move_into_the_vault(site: Site) -> None:
    data_key, wrapped = site.ctx.keys.new_data_key(b"old")
    site.access.conversations.create(id="old", badge_id="b", rep_id="r", site="s",
                                     started_at=1.0, codec=1, sample_rate=16000, channels=1,
                                     wrapped_key=wrapped)
    assert site.ctx.vault.adopt(site.access.db) == 1
    assert site.access.conversations.get("old").wrapped_key is None
    assert site.ctx.vault.data_key("old") == data_key


def test_release_a_held_conversation_and_audited_config_changes(site: Site,
                                                                 tmp_path: Path) -> None:
    from gateway.config import ConfigError, load_config
    from gateway.local_settings import effective_config

    access = site.access
    add_conversation(site, "h1", OTHER)
    access.hold("system:consent", "h1", reason="consent_missing")
    assert access.search("user:dpo", "umbrellas") == []
    assert access.release_hold("user:dpo", "h1")["status"] == "done"
    assert access.search("user:dpo", "umbrellas")
    with pytest.raises(CorrectionError):
        access.release_hold("user:dpo", "h1")

    path = tmp_path / "gateway.toml"
    path.write_text(f'[paths]\ndata_dir = "{site.root}"\n[consent]\njurisdiction = "one_party"\n')
    site.ctx.config_path = path
    access.update_config("user:admin", {"consent.jurisdiction": "all_party",
                                        "retention.transcript_days": 30})
    config = effective_config(path)
    assert config.consent.jurisdiction == "all_party" and config.retention.transcript_days == 30
    assert load_config(path).consent.jurisdiction == "one_party"  # the operator's file untouched
    with pytest.raises(ConfigError):
        access.update_config("user:admin", {"retention.transcript_days": 0})
    with pytest.raises(ConfigError):
        access.update_config("user:admin", {"consent.no_such_key": 1})
    with pytest.raises(ConfigError):
        access.update_config("user:admin", {"paths.data_dir": "/tmp"})
    assert effective_config(path).retention.transcript_days == 30
    changes = [e["detail"] for e in access.audit_entries("user:auditor", limit=1000)
               if e["action"] == "config.change"]
    assert {"old": "one_party", "new": "all_party"} in changes
    assert len(changes) == 2


def test_a_refreshed_list_is_audited_only_when_what_it_shows_changes(site: Site) -> None:
    access = site.access

    def listings() -> int:
        return sum(e.action == "conversation.list" for e in access.audit.entries())

    add_conversation(site, "c1", ["Hello there."])
    access.list_conversations("user:mgr")
    for _ in range(3):
        access.list_conversations("user:mgr", refresh=True)  # a page refreshing itself
    assert listings() == 1
    add_conversation(site, "c2", ["Hello again."])
    access.list_conversations("user:mgr", refresh=True)
    access.list_conversations("user:mgr", refresh=True)
    assert listings() == 2
    access.list_conversations("user:other", refresh=True)  # another viewer: their own entry
    access.list_conversations("user:mgr")  # opening the page is always audited
    assert listings() == 4


def test_cli_lists_and_releases_held_conversations(site: Site, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from gateway.cli import main

    add_conversation(site, "h2", OTHER)
    add_conversation(site, "k2", OTHER)
    site.access.hold("system:consent", "h2", reason="consent_missing")
    config = tmp_path / "gateway.toml"
    config.write_text(f'[paths]\ndata_dir = "{site.root}"\n[site]\ngateway_id = "gw-test"\n')
    assert main(["--config", str(config), "hold", "list", "--actor", "user:dpo"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["h2"]
    assert main(["--config", str(config), "hold", "release", "--conversation", "h2",
                 "--actor", "user:dpo"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "done"
    assert main(["--config", str(config), "hold", "release", "--conversation", "k2"]) != 0
    db = open_db(site.db_path)
    try:
        actions = [r[0] for r in db.execute(
            "SELECT action FROM audit_log WHERE actor = 'user:dpo' ORDER BY seq")]
    finally:
        db.close()
    assert actions == ["conversation.list", "conversation.release"]
