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
