-- A deleted account keeps its row, so its messages stay attributed: the row becomes a
-- tombstone (no address, no password, "Deleted user") marked by when it was deleted.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
