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
