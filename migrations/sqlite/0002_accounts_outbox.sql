-- Leasify ID: invitation and password reset tokens, and the email outbox (SQLite).
-- Keep in step with migrations/postgres/0002_accounts_outbox.sql (same tables, same columns).

-- Single-use link tokens; only the SHA-256 (hex) of the token is stored.
CREATE TABLE user_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;
CREATE INDEX user_tokens_user_id_idx ON user_tokens (user_id);
CREATE INDEX user_tokens_expires_at_idx ON user_tokens (expires_at);

-- Emails written in the same transaction as the change that causes them, sent by a worker.
-- `sealed_message` is sealed with the secret box and emptied (zero length) once done.
CREATE TABLE outbox (
    id              TEXT    NOT NULL PRIMARY KEY,
    recipient       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    sealed_message  BLOB    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
) STRICT;
CREATE INDEX outbox_status_next_attempt_at_idx ON outbox (status, next_attempt_at);
