-- Direct messages and blocking.
--
-- A direct message is a private channel whose members are its participants, marked by
-- `dm_key`: the participants' ids, sorted and joined by ',', so the same people always
-- find the same conversation (the unique index settles two racing opens). Its kind
-- column stays 'text', as in the SQLite schema (which cannot widen the column's CHECK
-- without rebuilding `channels`), so one set of queries reads both: the wire kind `dm`
-- is read from `dm_key`. NULL for every other channel.
ALTER TABLE channels ADD COLUMN dm_key TEXT NULL;
CREATE UNIQUE INDEX channels_dm_key ON channels (dm_key);

-- `user_id` blocked `blocked_id`: neither may open a direct message with the other nor
-- write into one they share, and `user_id`'s client folds away `blocked_id`'s messages.
CREATE TABLE user_blocks (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, blocked_id),
    CONSTRAINT user_blocks_not_self CHECK (user_id <> blocked_id)
);
-- Who blocked a given user, read when that user opens or writes into a direct message.
CREATE INDEX user_blocks_blocked ON user_blocks (blocked_id);
