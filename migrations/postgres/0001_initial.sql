-- Leasify ID: initial schema (PostgreSQL).
-- Times are Unix seconds; lists are JSON text; booleans are BOOLEAN.
-- Keep in step with migrations/sqlite/0001_initial.sql (same tables, same columns).

CREATE TABLE users (
    id             TEXT    NOT NULL PRIMARY KEY,
    email          TEXT    NOT NULL,
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    name           TEXT    NOT NULL,
    locale         TEXT    NOT NULL,
    password_hash  TEXT,
    disabled       BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL
);
CREATE UNIQUE INDEX users_email_key ON users (email);

CREATE TABLE clients (
    id                         TEXT    NOT NULL PRIMARY KEY,
    name                       TEXT    NOT NULL,
    secret_hash                TEXT,
    token_endpoint_auth_method TEXT    NOT NULL,
    redirect_uris              TEXT    NOT NULL,
    post_logout_redirect_uris  TEXT    NOT NULL,
    allowed_scopes             TEXT    NOT NULL,
    first_party                BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                 BIGINT  NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT    NOT NULL PRIMARY KEY,
    alg            TEXT    NOT NULL,
    private_sealed BYTEA   NOT NULL,
    public_jwk     TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    active_from    BIGINT  NOT NULL,
    retired_at     BIGINT,
    unpublish_at   BIGINT
);

CREATE TABLE pending_authorizations (
    id           TEXT    NOT NULL PRIMARY KEY,
    request_json TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX pending_authorizations_expires_at_idx ON pending_authorizations (expires_at);

CREATE TABLE sessions (
    id_hash    TEXT    NOT NULL PRIMARY KEY,
    sid        TEXT    NOT NULL UNIQUE,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    auth_time  BIGINT  NOT NULL,
    amr        TEXT    NOT NULL,
    acr        TEXT    NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE session_clients (
    sid       TEXT NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    PRIMARY KEY (sid, client_id)
);
CREATE INDEX session_clients_client_id_idx ON session_clients (client_id);

CREATE TABLE grants (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    auth_time  BIGINT  NOT NULL,
    amr        TEXT    NOT NULL,
    acr        TEXT    NOT NULL,
    sid        TEXT,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_user_id_idx ON grants (user_id);
CREATE INDEX grants_client_id_idx ON grants (client_id);
CREATE INDEX grants_expires_at_idx ON grants (expires_at);

CREATE TABLE auth_codes (
    code_hash             TEXT    NOT NULL PRIMARY KEY,
    grant_id              TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id             TEXT    NOT NULL,
    redirect_uri          TEXT    NOT NULL,
    nonce                 TEXT,
    code_challenge        TEXT,
    code_challenge_method TEXT,
    created_at            BIGINT  NOT NULL,
    expires_at            BIGINT  NOT NULL,
    used_at               BIGINT
);
CREATE INDEX auth_codes_grant_id_idx ON auth_codes (grant_id);
CREATE INDEX auth_codes_expires_at_idx ON auth_codes (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    grant_id   TEXT    NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    generation BIGINT  NOT NULL,
    created_at BIGINT  NOT NULL,
    expires_at BIGINT  NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant_id_idx ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

CREATE TABLE throttle (
    key          TEXT    NOT NULL PRIMARY KEY,
    failures     BIGINT  NOT NULL,
    window_start BIGINT  NOT NULL
);
CREATE INDEX throttle_window_start_idx ON throttle (window_start);
