-- Replies: the message answered and its author. Neither is a foreign key on purpose:
-- when the original is deleted the reply keeps pointing at it and shows it as deleted.
ALTER TABLE messages ADD COLUMN reply_to_id BIGINT;
ALTER TABLE messages ADD COLUMN reply_to_author_id BIGINT;

-- One row per user and emoji on a message; `created_at` orders a message's emoji by
-- first use. Rows go with their message or user.
CREATE TABLE message_reactions (
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);
CREATE INDEX message_reactions_user ON message_reactions (user_id);

-- Pinned messages of a channel. A pin goes with its message; the pinner's account
-- going leaves the pin in place.
CREATE TABLE channel_pins (
    channel_id BIGINT NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    message_id BIGINT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    pinned_by  BIGINT NOT NULL,
    pinned_at  BIGINT NOT NULL,
    PRIMARY KEY (channel_id, message_id)
);
CREATE INDEX channel_pins_message ON channel_pins (message_id);
