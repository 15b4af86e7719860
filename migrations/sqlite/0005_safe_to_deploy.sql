-- Leasify ID: verified personnummer, refresh-token siblings, background jobs, readiness
-- (SQLite). Keep in step with migrations/postgres/0005_safe_to_deploy.sql.

-- A personnummer is unique only once BankID has verified it (bankid_linked_at set): someone who
-- types in another person's number cannot block the real owner. SQLite cannot drop a column's
-- UNIQUE constraint, so the table is rebuilt (nothing references it).
CREATE TABLE personnummer_new (
    user_id          TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed           BLOB    NOT NULL,
    blind_index      TEXT    NOT NULL,
    bankid_linked_at INTEGER,
    updated_at       INTEGER NOT NULL
) STRICT;
INSERT INTO personnummer_new (user_id, sealed, blind_index, bankid_linked_at, updated_at)
    SELECT user_id, sealed, blind_index, bankid_linked_at, updated_at FROM personnummer;
DROP TABLE personnummer;
ALTER TABLE personnummer_new RENAME TO personnummer;
CREATE INDEX personnummer_blind_index_idx ON personnummer (blind_index);
CREATE UNIQUE INDEX personnummer_verified_blind_index_idx ON personnummer (blind_index)
    WHERE bankid_linked_at IS NOT NULL;

-- A refresh token made obsolete without being used: a sibling issued in the reuse grace window
-- whose chain lost, or any older token once a newer one of its grant is used.
ALTER TABLE refresh_tokens ADD COLUMN revoked_at INTEGER;

-- Background work that must survive a restart (a password reset request, …): claimed with a
-- lease, retried with backoff. The payload is sealed with the secret box.
CREATE TABLE jobs (
    id              TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'done', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
) STRICT;
CREATE INDEX jobs_status_next_idx ON jobs (status, next_attempt_at);

-- Each instance writes its row on every readiness check: ready means able to write.
CREATE TABLE instance_heartbeats (
    instance_id TEXT    NOT NULL PRIMARY KEY,
    checked_at  INTEGER NOT NULL
) STRICT;

-- Names are shown in pages and put in email headers; a line break or tab in one stopped the
-- mail library. New names refuse control characters; old ones get spaces instead.
UPDATE users SET name = replace(replace(replace(name, char(13), ' '), char(10), ' '), char(9), ' ')
    WHERE name <> replace(replace(replace(name, char(13), ''), char(10), ''), char(9), '');
UPDATE clients SET name = replace(replace(replace(name, char(13), ' '), char(10), ' '), char(9), ' ')
    WHERE name <> replace(replace(replace(name, char(13), ''), char(10), ''), char(9), '');
