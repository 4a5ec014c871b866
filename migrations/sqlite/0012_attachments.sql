-- Files uploaded into a channel. A row is an upload of its uploader's until a message
-- of theirs names it (`message_id` set); unsent rows are swept after a day. The bytes
-- live in the attachment store under `blob` (and `thumbnail_blob`), the SHA-256 of the
-- stored bytes, so identical files are stored once and several rows may share a blob.
-- `url_key` is random and part of the download address: ids alone are guessable.
CREATE TABLE attachments (
    id             INTEGER PRIMARY KEY,
    url_key        TEXT NOT NULL,
    channel_id     INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    uploader_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message_id     INTEGER REFERENCES messages (id) ON DELETE CASCADE,
    position       INTEGER NOT NULL DEFAULT 0,
    filename       TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size           INTEGER NOT NULL,
    width          INTEGER,
    height         INTEGER,
    blob           TEXT NOT NULL,
    thumbnail_blob TEXT,
    created_at     INTEGER NOT NULL
);
CREATE INDEX attachments_message ON attachments (message_id, position);
CREATE INDEX attachments_blob ON attachments (blob);
CREATE INDEX attachments_thumbnail_blob ON attachments (thumbnail_blob);
CREATE INDEX attachments_unsent ON attachments (created_at) WHERE message_id IS NULL;

-- Every blob in the store. `claims` counts uploads that are writing it and have not
-- yet inserted their row; a blob is deleted only when it has no claim and no row names
-- it, under this row's lock, so an upload of the same bytes never loses them to a
-- concurrent deletion. A claim older than an hour is a crashed upload's and ignored.
CREATE TABLE attachment_blobs (
    hash       TEXT PRIMARY KEY,
    claims     INTEGER NOT NULL,
    claimed_at INTEGER NOT NULL
);
