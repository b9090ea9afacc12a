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
