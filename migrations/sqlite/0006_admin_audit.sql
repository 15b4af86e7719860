-- Leasify ID: the audit trail, the client_credentials grant and resource indicators (SQLite).
-- Keep in step with migrations/postgres/0006_admin_audit.sql.

-- Append-only: written in the transaction of the change it records, purged only by retention.
-- `details` is JSON text and never holds a secret, a password, an email or a personnummer.
-- An admin write carries the caller's Idempotency-Key (unique per actor), so a retried create
-- finds the event of the first one instead of doing it again.
CREATE TABLE audit_events (
    id              TEXT    NOT NULL PRIMARY KEY,
    at              INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    actor_type      TEXT    NOT NULL,
    actor_id        TEXT,
    user_id         TEXT,
    client_id       TEXT,
    ip              TEXT,
    user_agent      TEXT,
    result          TEXT    NOT NULL,
    details         TEXT    NOT NULL,
    idempotency_key TEXT,
    request_hash    TEXT
) STRICT;
CREATE INDEX audit_events_at_idx ON audit_events (at, id);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, at);
CREATE INDEX audit_events_client_idx ON audit_events (client_id, at);
CREATE UNIQUE INDEX audit_events_idempotency_idx ON audit_events (actor_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

-- Which grants a client may use (JSON list), and the resource indicators (RFC 8707) it may ask
-- tokens for (JSON list; the first is its default audience).
ALTER TABLE clients ADD COLUMN grant_types TEXT NOT NULL
    DEFAULT '["authorization_code","refresh_token"]';
ALTER TABLE clients ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
