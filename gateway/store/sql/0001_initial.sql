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
