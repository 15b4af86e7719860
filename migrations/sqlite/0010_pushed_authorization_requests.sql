-- Leasify ID: pushed authorization requests, RFC 9126 (SQLite).
-- Keep in step with migrations/postgres/0010_pushed_authorization_requests.sql.

-- A client's authorization request, pushed to /par and validated there, waiting for the browser
-- to bring its request_uri to /authorize (at most 60 s, once). Only the SHA-256 of the
-- request_uri is kept: whoever reads the table cannot start the request. The parameters are
-- the pushed pairs (JSON), without the client's credentials.
CREATE TABLE pushed_requests (
    request_uri_hash TEXT    NOT NULL PRIMARY KEY,
    client_id        TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    params_json      TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX pushed_requests_expires_at_idx ON pushed_requests (expires_at);

-- RFC 9126 §6: the client's authorization requests are accepted only when pushed.
ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0;
