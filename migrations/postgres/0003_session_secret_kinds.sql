-- A login's secrets are refresh tokens (a device, rotated on every use) or cookie values
-- (a browser). A device login may hold a cookie too (`/auto_login`, the desktop app
-- opening the web client), so that ending the one ends the other.
ALTER TABLE session_secrets ADD COLUMN kind TEXT NOT NULL DEFAULT 'refresh'
    CHECK (kind IN ('refresh', 'cookie'));
UPDATE session_secrets SET kind = 'cookie'
    WHERE session_id IN (SELECT id FROM auth_sessions WHERE kind = 'browser');
-- A refresh token replaced before anyone used it (its answer was lost and the client
-- retried with the one before): it was never legitimately held, so showing it is theft.
ALTER TABLE session_secrets ADD COLUMN voided_at BIGINT;

-- One row that every registration locks first, so concurrent registrations on
-- PostgreSQL queue up and exactly one of them finds no users and becomes the admin
-- (SQLite write transactions are serial already).
CREATE TABLE registration_gate (id INTEGER PRIMARY KEY);
INSERT INTO registration_gate (id) VALUES (1);
