-- Leasify ID: verified personnummer, refresh-token siblings, background jobs, readiness
-- (PostgreSQL). Keep in step with migrations/sqlite/0005_safe_to_deploy.sql.

-- A personnummer is unique only once BankID has verified it (bankid_linked_at set): someone who
-- types in another person's number cannot block the real owner.
ALTER TABLE personnummer DROP CONSTRAINT personnummer_blind_index_key;
CREATE INDEX personnummer_blind_index_idx ON personnummer (blind_index);
CREATE UNIQUE INDEX personnummer_verified_blind_index_idx ON personnummer (blind_index)
    WHERE bankid_linked_at IS NOT NULL;

-- A refresh token made obsolete without being used: a sibling issued in the reuse grace window
-- whose chain lost, or any older token once a newer one of its grant is used.
ALTER TABLE refresh_tokens ADD COLUMN revoked_at BIGINT;

-- Background work that must survive a restart (a password reset request, …): claimed with a
-- lease, retried with backoff. The payload is sealed with the secret box.
CREATE TABLE jobs (
    id              TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    payload         BYTEA   NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'done', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL,
    finished_at     BIGINT
);
CREATE INDEX jobs_status_next_idx ON jobs (status, next_attempt_at);

-- Each instance writes its row on every readiness check: ready means able to write.
CREATE TABLE instance_heartbeats (
    instance_id TEXT    NOT NULL PRIMARY KEY,
    checked_at  BIGINT  NOT NULL
);

-- Names are shown in pages and put in email headers; a line break or tab in one stopped the
-- mail library. New names refuse control characters; old ones get spaces instead.
UPDATE users SET name = translate(name, chr(13) || chr(10) || chr(9), '   ')
    WHERE name <> translate(name, chr(13) || chr(10) || chr(9), '   ');
UPDATE clients SET name = translate(name, chr(13) || chr(10) || chr(9), '   ')
    WHERE name <> translate(name, chr(13) || chr(10) || chr(9), '   ');
