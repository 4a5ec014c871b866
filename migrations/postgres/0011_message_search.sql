-- Message search. `has_link`: the body holds an http(s) address (set by the server on
-- send and edit). `has_attachment`: the message carries files; the attachment code sets
-- it in the transaction that sends such a message. Both serve `has=` in search.
ALTER TABLE messages ADD COLUMN has_link SMALLINT NOT NULL DEFAULT 0 CHECK (has_link IN (0, 1));
ALTER TABLE messages ADD COLUMN has_attachment SMALLINT NOT NULL DEFAULT 0 CHECK (has_attachment IN (0, 1));
UPDATE messages SET has_link = 1 WHERE body ILIKE '%http://%' OR body ILIKE '%https://%';

-- The full-text index of message bodies: a generated column is rewritten by the very
-- statement, hence the transaction, that writes the body, whichever path that is.
-- `simple`: no stemming or stop words, so every language is searched alike and words
-- match as they do in SQLite's index.
ALTER TABLE messages ADD COLUMN search_vector tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED;
CREATE INDEX messages_search_vector ON messages USING GIN (search_vector);
