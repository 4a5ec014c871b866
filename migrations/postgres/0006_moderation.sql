-- Moderators: a role between member and admin.
ALTER TABLE users DROP CONSTRAINT users_role_check;
ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'moderator', 'member'));

-- A ban is kept by address, so the address stays refused at login and registration
-- even once the account is deleted (user_id becomes NULL then).
CREATE TABLE bans (
    email      TEXT PRIMARY KEY,
    user_id    BIGINT REFERENCES users (id) ON DELETE SET NULL,
    reason     TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT bans_user_id_key UNIQUE (user_id)
);

-- At most one timeout per user; an expired one is ignored and replaced by the next.
CREATE TABLE timeouts (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    ends_at    BIGINT NOT NULL,
    reason     TEXT,
    created_by BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);

-- What admins and moderators did. Ids, not foreign keys: the record outlives the
-- users and channels it names. details is JSON text.
CREATE TABLE audit_log (
    id                BIGINT PRIMARY KEY,
    actor_id          BIGINT NOT NULL,
    action            TEXT NOT NULL,
    target_user_id    BIGINT,
    target_channel_id BIGINT,
    reason            TEXT,
    details           TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);
