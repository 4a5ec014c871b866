-- Moderators: a role between member and admin. SQLite cannot change a CHECK in place,
-- so the role moves to a new column with the wider check (the old column's check goes
-- with it; nothing else refers to the column).
ALTER TABLE users ADD COLUMN role_next TEXT NOT NULL DEFAULT 'member'
    CONSTRAINT users_role_check CHECK (role_next IN ('admin', 'moderator', 'member'));
UPDATE users SET role_next = role;
ALTER TABLE users DROP COLUMN role;
ALTER TABLE users RENAME COLUMN role_next TO role;

-- A ban is kept by address, so the address stays refused at login and registration
-- even once the account is deleted (user_id becomes NULL then).
CREATE TABLE bans (
    email      TEXT PRIMARY KEY,
    user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    reason     TEXT,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL,
    CONSTRAINT bans_user_id_key UNIQUE (user_id)
);

-- At most one timeout per user; an expired one is ignored and replaced by the next.
CREATE TABLE timeouts (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    ends_at    INTEGER NOT NULL,
    reason     TEXT,
    created_by INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at INTEGER NOT NULL
);

-- What admins and moderators did. Ids, not foreign keys: the record outlives the
-- users and channels it names. details is JSON text.
CREATE TABLE audit_log (
    id                INTEGER PRIMARY KEY,
    actor_id          INTEGER NOT NULL,
    action            TEXT NOT NULL,
    target_user_id    INTEGER,
    target_channel_id INTEGER,
    reason            TEXT,
    details           TEXT NOT NULL,
    created_at        INTEGER NOT NULL
);
