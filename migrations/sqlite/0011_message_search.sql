-- Message search. `has_link`: the body holds an http(s) address (set by the server on
-- send and edit). `has_attachment`: the message carries files; the attachment code sets
-- it in the transaction that sends such a message. Both serve `has=` in search.
ALTER TABLE messages ADD COLUMN has_link INTEGER NOT NULL DEFAULT 0 CHECK (has_link IN (0, 1));
ALTER TABLE messages ADD COLUMN has_attachment INTEGER NOT NULL DEFAULT 0 CHECK (has_attachment IN (0, 1));
UPDATE messages SET has_link = 1 WHERE body LIKE '%http://%' OR body LIKE '%https://%';

-- The full-text index of message bodies. It reads the text from `messages` (external
-- content: no second copy) and the triggers keep it current in the statement, hence the
-- transaction, that writes the message, whichever path that is (send, edit, delete,
-- a ban's purge, a channel or account deleted). Diacritics are kept so words match as
-- they do on PostgreSQL's `simple` configuration.
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 0'
);
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.id, new.body);
END;
