-- Relay-only voice: a user's own choice, and the admin switch that forces it for everyone.
CREATE TABLE voice_preferences (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    relay_only SMALLINT NOT NULL CHECK (relay_only IN (0, 1)),
    updated_at BIGINT NOT NULL
);

CREATE TABLE voice_settings (
    name       TEXT PRIMARY KEY,
    enabled    SMALLINT NOT NULL CHECK (enabled IN (0, 1)),
    updated_at BIGINT NOT NULL
);
