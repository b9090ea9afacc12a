"""Numbered schema migrations, applied in order and recorded in the database."""

from __future__ import annotations

import logging
import time

import sqlite_utils

log = logging.getLogger(__name__)

MIGRATIONS: list[tuple[str, str]] = [
    (
        "0001_initial",
        """
        CREATE TABLE conversations (
            id TEXT PRIMARY KEY,
            badge_id TEXT NOT NULL,
            rep_id TEXT NOT NULL,
            site TEXT NOT NULL,
            started_at REAL NOT NULL,
            ended_at REAL,
            received_at REAL NOT NULL,
            codec INTEGER NOT NULL,
            sample_rate INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            status TEXT NOT NULL,
            finish_reason TEXT,
            frames INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            gaps INTEGER NOT NULL DEFAULT 0,
            audio_bytes INTEGER NOT NULL DEFAULT 0,
            duration_s REAL,
            speech_s REAL,
            consent_declared INTEGER NOT NULL DEFAULT 0,
            wrapped_key BLOB,
            error TEXT
        );
        CREATE INDEX conversations_status ON conversations(status);
        CREATE TABLE segments (
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            speaker TEXT NOT NULL,
            text_ct BLOB NOT NULL,
            PRIMARY KEY (conversation_id, idx)
        );
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            start REAL NOT NULL,
            "end" REAL NOT NULL,
            confidence REAL NOT NULL,
            text_ct BLOB NOT NULL
        );
        CREATE INDEX tags_conversation ON tags(conversation_id);
        CREATE TABLE jobs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            conversation_id TEXT NOT NULL,
            priority INTEGER NOT NULL DEFAULT 0,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            error TEXT
        );
        CREATE INDEX jobs_ready ON jobs(state, priority DESC, id);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            conversation_id TEXT,
            topic TEXT NOT NULL,
            payload BLOB NOT NULL,
            created_at REAL NOT NULL,
            sent_at REAL
        );
        CREATE INDEX outbox_pending ON outbox(sent_at, id);
        """,
    ),
    (
        "0005_speech_job_leases_and_talk_metrics",
        """
        ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
        ALTER TABLE jobs ADD COLUMN lease_until REAL;
        CREATE INDEX jobs_conversation ON jobs(conversation_id, kind, state);
        ALTER TABLE segments ADD COLUMN sentiment REAL;
        CREATE TABLE talk_metrics (
            conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
            speakers TEXT NOT NULL,
            rep_talk_ratio REAL,
            longest_monologue_s REAL,
            longest_monologue_speaker TEXT,
            questions_rep INTEGER,
            questions_customer INTEGER,
            interruptions_rep INTEGER,
            interruptions_customer INTEGER
        );
        """,
    ),
    (
        "0004_sync_outbox_usage",
        """
        ALTER TABLE outbox ADD COLUMN rejected INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE outbox_usage (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pending INTEGER NOT NULL,
            pending_bytes INTEGER NOT NULL
        );
        INSERT INTO outbox_usage SELECT 1, count(*), coalesce(sum(length(payload)), 0)
            FROM outbox WHERE sent_at IS NULL;
        CREATE TRIGGER outbox_usage_insert AFTER INSERT ON outbox WHEN NEW.sent_at IS NULL
        BEGIN
            UPDATE outbox_usage SET pending = pending + 1,
                pending_bytes = pending_bytes + length(NEW.payload) WHERE id = 1;
        END;
        CREATE TRIGGER outbox_usage_sent AFTER UPDATE OF sent_at ON outbox
            WHEN OLD.sent_at IS NULL AND NEW.sent_at IS NOT NULL
        BEGIN
            UPDATE outbox_usage SET pending = pending - 1,
                pending_bytes = pending_bytes - length(OLD.payload) WHERE id = 1;
        END;
        CREATE TRIGGER outbox_usage_delete AFTER DELETE ON outbox WHEN OLD.sent_at IS NULL
        BEGIN
            UPDATE outbox_usage SET pending = pending - 1,
                pending_bytes = pending_bytes - length(OLD.payload) WHERE id = 1;
        END;
        """,
    ),
    (
        "0003_privacy_core",
        """
        CREATE TABLE consent_events (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            at REAL NOT NULL,
            offset_s REAL,
            kind TEXT NOT NULL,
            source TEXT NOT NULL,
            policy TEXT NOT NULL,
            disclosure_version TEXT NOT NULL,
            confidence REAL,
            words_ct BLOB
        );
        CREATE INDEX consent_events_conversation ON consent_events(conversation_id, id);
        CREATE TABLE subject_refs (
            conversation_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            ref TEXT NOT NULL,
            PRIMARY KEY (conversation_id, kind, ref)
        );
        CREATE INDEX subject_refs_ref ON subject_refs(ref);
        CREATE TABLE tombstones (
            conversation_id TEXT PRIMARY KEY,
            deleted_at REAL NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL
        );
    (
        "0002_ingest_badges_sessions_health",
        """
        CREATE TABLE badges (
            id TEXT PRIMARY KEY,
            cert_serial TEXT NOT NULL,
            cert_fingerprint TEXT NOT NULL,
            cert_not_after REAL NOT NULL,
            token_hash TEXT NOT NULL,
            paired_at REAL NOT NULL,
            revoked_at REAL
        );
        CREATE TABLE revoked_certs (
            serial TEXT PRIMARY KEY,
            badge_id TEXT NOT NULL,
            revoked_at REAL NOT NULL
        );
        CREATE TABLE ingest_sessions (
            conversation_id TEXT PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
            badge_id TEXT NOT NULL,
            codec INTEGER NOT NULL,
            sample_rate INTEGER NOT NULL,
            channels INTEGER NOT NULL,
            next_seq INTEGER NOT NULL DEFAULT 0,
            spool_records INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        CREATE TABLE badge_health (
            badge_id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            last_seen REAL,
            battery_pct INTEGER,
            rssi_dbm INTEGER,
            firmware TEXT,
            frames INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            gaps INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL
        );
        """,
    ),
        CREATE TABLE corrections (
            id INTEGER PRIMARY KEY,
            conversation_id TEXT NOT NULL,
            target TEXT NOT NULL,
            action TEXT NOT NULL,
            tag TEXT,
            new_tag TEXT,
            start REAL,
            "end" REAL,
            actor TEXT NOT NULL,
            at REAL NOT NULL
        );
        CREATE INDEX corrections_conversation ON corrections(conversation_id, id);
        CREATE TABLE audit_log (
            seq INTEGER PRIMARY KEY,
            at REAL NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            object TEXT NOT NULL,
            detail TEXT NOT NULL,
            prev_hash TEXT NOT NULL,
            hash TEXT NOT NULL
        );
        CREATE TABLE audit_checkpoints (
            seq INTEGER PRIMARY KEY,
            entries INTEGER NOT NULL,
            head_hash TEXT NOT NULL,
            at REAL NOT NULL,
            key_id TEXT NOT NULL,
            signature TEXT NOT NULL
        );
        """,
    ),
    (
        "0006_webui_accounts",
        """
        CREATE TABLE users (
            id INTEGER PRIMARY KEY,
            username TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            last_login_at REAL,
            failed_logins INTEGER NOT NULL DEFAULT 0,
            locked_until REAL,
            disabled INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE web_sessions (
            token_hash TEXT PRIMARY KEY,
            user_id INTEGER REFERENCES users(id) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL,
            setup INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE webui_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
    ),
]


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied now."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    done = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    applied: list[str] = []
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        try:
            db.conn.executescript(f"BEGIN;\n{sql}")
            db.execute("INSERT INTO _migrations VALUES (?, ?)", [name, time.time()])
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
        log.info("applied migration %s", name)
        applied.append(name)
    return applied
