-- A voice room's pinned way of carrying audio: 'mesh' or 'sfu' always, whatever the
-- server's VOICE_MODE says; NULL follows the server. Kept on text channels too, where
-- it has nothing to act on.
ALTER TABLE channels ADD COLUMN voice_mode TEXT NULL
    CONSTRAINT channels_voice_mode_check CHECK (voice_mode IS NULL OR voice_mode IN ('mesh', 'sfu'));
