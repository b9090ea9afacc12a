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
