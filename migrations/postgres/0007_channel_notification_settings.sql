-- What one user hears of one channel: every message, mentions only (the default, which
-- is also what a missing row means) or nothing; and a mute that ends by itself. Rows go
-- with their user or channel.
CREATE TABLE channel_notification_settings (
    user_id     BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    channel_id  BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    level       TEXT NOT NULL
        CONSTRAINT channel_notification_settings_level_check CHECK (level IN ('all', 'mentions', 'nothing')),
    muted_until BIGINT,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, channel_id)
);
-- Who in a channel wants nothing right now, read when a message's notifications are made.
CREATE INDEX channel_notification_settings_channel ON channel_notification_settings (channel_id);
