-- Leasify ID: bulk invitations from a CSV file, for the admin console (PostgreSQL).
-- Keep in step with migrations/sqlite/0008_invite_batches.sql.

-- An uploaded file, checked and shown as a preview (`preview`), then invited row by row by a
-- background job (`running`) until every row has its outcome (`done`).
CREATE TABLE invite_batches (
    id          TEXT    NOT NULL PRIMARY KEY,
    file_name   TEXT    NOT NULL,
    -- The administrator who uploaded the file, and who started the run (the actor of the
    -- invitations); ids only, like the audit trail.
    uploaded_by TEXT    NOT NULL,
    started_by  TEXT,
    status      TEXT    NOT NULL CHECK (status IN ('preview', 'running', 'done')),
    created_at  BIGINT  NOT NULL,
    started_at  BIGINT,
    finished_at BIGINT
);
CREATE INDEX invite_batches_created_idx ON invite_batches (created_at);

-- One line of the file. `user_id` is the id the new account gets, chosen at upload, so a run
-- that dies between creating the account and recording it knows the account is its own. A row
-- refused at upload has a `problem` (a code; `problem_line` names the line it duplicates).
CREATE TABLE invite_batch_rows (
    batch_id     TEXT    NOT NULL REFERENCES invite_batches (id) ON DELETE CASCADE,
    line         BIGINT  NOT NULL,
    email        TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    locale       TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    outcome      TEXT    NOT NULL CHECK (outcome IN ('pending', 'created', 'existed', 'refused')),
    problem      TEXT,
    problem_line BIGINT,
    PRIMARY KEY (batch_id, line)
);
CREATE INDEX invite_batch_rows_user_idx ON invite_batch_rows (user_id);
CREATE INDEX invite_batch_rows_email_idx ON invite_batch_rows (email);
