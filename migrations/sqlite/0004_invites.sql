-- Registration becomes a mode (open, invite_only, closed) instead of an on/off flag, so
-- it moves out of feature_flags (whose values are 0/1) into a table of named settings.
-- An old "registration on" becomes open, "off" becomes closed.
CREATE TABLE server_settings (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    CONSTRAINT server_settings_registration_check
        CHECK (name <> 'registration' OR value IN ('open', 'invite_only', 'closed'))
);
INSERT INTO server_settings (name, value, updated_at)
    SELECT 'registration', CASE WHEN enabled = 1 THEN 'open' ELSE 'closed' END, updated_at
    FROM feature_flags WHERE name = 'registration';
DELETE FROM feature_flags WHERE name = 'registration';

-- An invite link. Only the code's SHA-256 digest is kept (a leaked table or backup lets
-- nobody in), plus its first characters so people can tell their invites apart.
-- A use is taken by one conditional UPDATE (uses < max_uses, not expired, not revoked)
-- inside the registration transaction; the CHECK is the last word if that ever slips.
CREATE TABLE invites (
    id          INTEGER PRIMARY KEY,
    code_digest TEXT NOT NULL,
    code_prefix TEXT NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    max_uses    INTEGER NOT NULL CHECK (max_uses > 0),
    uses        INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND uses <= max_uses),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    CONSTRAINT invites_code_digest_key UNIQUE (code_digest)
);
CREATE INDEX invites_created_by ON invites (created_by, id);
