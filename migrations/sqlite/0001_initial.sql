-- Cromulent schema, SQLite flavour. Kept column-for-column equal to the PostgreSQL one.
-- Times are milliseconds since the Unix epoch (INTEGER); flags are INTEGER 0/1 so one
-- set of queries reads both databases through sqlx's Any driver.

CREATE TABLE users (
    id                 INTEGER PRIMARY KEY,
    email              TEXT NOT NULL,
    username           TEXT NOT NULL,
    username_key       TEXT NOT NULL,
    password_hash      TEXT NOT NULL,
    role               TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    display_name       TEXT,
    avatar_url         TEXT,
    email_confirmed_at INTEGER,
    voice_mode         TEXT NOT NULL DEFAULT 'ptt' CHECK (voice_mode IN ('ptt', 'vad')),
    vad_threshold_db   REAL NOT NULL DEFAULT -40,
    created_at         INTEGER NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username_key)
);

-- One login: a device holding a refresh token, or a browser holding a cookie.
CREATE TABLE auth_sessions (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind         TEXT NOT NULL CHECK (kind IN ('refresh', 'browser')),
    device_name  TEXT,
    device_type  TEXT,
    ip_address   TEXT,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX auth_sessions_user ON auth_sessions (user_id);

-- Hashes of the secrets a session has been issued; a refresh token is spent when rotated.
CREATE TABLE session_secrets (
    secret_hash TEXT PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES auth_sessions (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    spent_at    INTEGER
);
CREATE INDEX session_secrets_session ON session_secrets (session_id);

-- Single-use tokens sent by mail: confirm, reset_password, change_email.
CREATE TABLE mail_tokens (
    token_hash TEXT PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('confirm', 'reset_password', 'change_email')),
    sent_to    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX mail_tokens_user ON mail_tokens (user_id);

CREATE TABLE channels (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('text', 'voice')),
    topic            TEXT,
    is_default       INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    is_private       INTEGER NOT NULL DEFAULT 0 CHECK (is_private IN (0, 1)),
    write_permission TEXT NOT NULL DEFAULT 'everyone' CHECK (write_permission IN ('everyone', 'admin_only')),
    last_message_id  INTEGER,
    last_message_at  INTEGER,
    created_at       INTEGER NOT NULL,
    CONSTRAINT channels_name_key UNIQUE (name)
);

CREATE TABLE channel_memberships (
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at  INTEGER NOT NULL,
    PRIMARY KEY (channel_id, user_id)
);
CREATE INDEX channel_memberships_user ON channel_memberships (user_id);

CREATE TABLE channel_reads (
    user_id              INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id           INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    last_read_message_id INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel_id)
);

CREATE TABLE messages (
    id         INTEGER PRIMARY KEY,
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    author_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body       TEXT NOT NULL,
    nonce      TEXT,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    CONSTRAINT messages_author_nonce_key UNIQUE (author_id, nonce)
);
CREATE INDEX messages_channel_id ON messages (channel_id, id);

-- What a message mentions, as written: a user, a group, @here or @everyone (target 0).
CREATE TABLE message_mentions (
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('user', 'group', 'here', 'everyone')),
    target_id  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (message_id, kind, target_id)
);

CREATE TABLE groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    name_key   TEXT NOT NULL,
    colour     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT groups_name_key UNIQUE (name_key)
);

CREATE TABLE group_memberships (
    group_id INTEGER NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_memberships_user ON group_memberships (user_id);

-- One row per user a message mentions (groups, @here, @everyone expanded at send time).
CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('mention')),
    channel_id INTEGER NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    actor_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    excerpt    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    read_at    INTEGER,
    CONSTRAINT notifications_user_message_key UNIQUE (user_id, message_id)
);
CREATE INDEX notifications_user_channel ON notifications (user_id, channel_id, message_id);
CREATE INDEX notifications_message ON notifications (message_id);

CREATE TABLE feature_flags (
    name       TEXT PRIMARY KEY,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at INTEGER NOT NULL
);
