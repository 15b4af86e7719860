-- Leasify ID: passkeys, WebAuthn Level 3 (PostgreSQL).
-- Keep in step with migrations/sqlite/0012_passkeys.sql.

-- A user's passkeys. `credential` is webauthn-rs's serialized credential (public key, its own
-- copy of the counter and flags: JSON, no secret); the columns beside it are what we query and
-- check ourselves. The credential id is unique across all users: WebAuthn identifies the
-- account by it at a usernameless login. `rp_id` is the relying-party id (the issuer's host) it
-- was registered for: a login on another host is refused even if the key signs for that host.
CREATE TABLE passkeys (
    id               TEXT    NOT NULL PRIMARY KEY,
    user_id          TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    TEXT    NOT NULL UNIQUE,
    credential       TEXT    NOT NULL,
    rp_id            TEXT    NOT NULL,
    name             TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    last_used_at     BIGINT,
    sign_count       BIGINT  NOT NULL,
    backup_eligible  BOOLEAN NOT NULL,
    backup_state     BOOLEAN NOT NULL
);
CREATE INDEX passkeys_user_id_idx ON passkeys (user_id);

-- A WebAuthn ceremony waiting for the browser's answer: the server-side state of a
-- registration or a login (JSON). Instances are stateless, so it waits here; it is taken once
-- (DELETE … RETURNING) and only before it expires.
CREATE TABLE passkey_challenges (
    id          TEXT    NOT NULL PRIMARY KEY,
    purpose     TEXT    NOT NULL,
    user_id     TEXT    REFERENCES users (id) ON DELETE CASCADE,
    state       TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL
);
CREATE INDEX passkey_challenges_expires_at_idx ON passkey_challenges (expires_at);
