-- Leasify ID: consent, logout (RP-initiated and back-channel), revocation and private_key_jwt
-- (PostgreSQL). Keep in step with migrations/sqlite/0004_consent_logout_revocation.sql.

-- Back-channel logout and private_key_jwt settings per client.
ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT;
ALTER TABLE clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;
-- A JWK Set (JSON text) or its URL, for private_key_jwt client authentication.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE clients ADD COLUMN jwks_uri TEXT;

-- Claims the client asked for with the `claims` request parameter (JSON), per grant.
ALTER TABLE grants ADD COLUMN requested_claims TEXT;

-- What a user allowed a third-party client; asked again when a request wants more.
CREATE TABLE consents (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    scope      TEXT    NOT NULL,
    granted_at BIGINT  NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX consents_client_id_idx ON consents (client_id);

-- Access tokens are self-contained JWTs; a revoked one is remembered by its jti until it expires.
CREATE TABLE revoked_access_tokens (
    jti        TEXT    NOT NULL PRIMARY KEY,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX revoked_access_tokens_expires_at_idx ON revoked_access_tokens (expires_at);

-- jti values of private_key_jwt client assertions, kept until the assertion expires (replay).
CREATE TABLE client_assertion_jtis (
    client_id  TEXT    NOT NULL,
    jti        TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX client_assertion_jtis_expires_at_idx ON client_assertion_jtis (expires_at);

-- Logout tokens waiting to be POSTed to clients' back-channel logout URIs, with retries.
CREATE TABLE backchannel_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    client_id       TEXT    NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
    uri             TEXT    NOT NULL,
    logout_token    TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT  NOT NULL DEFAULT 0,
    next_attempt_at BIGINT  NOT NULL,
    locked_until    BIGINT,
    last_error      TEXT,
    created_at      BIGINT  NOT NULL
);
CREATE INDEX backchannel_deliveries_status_next_idx ON backchannel_deliveries (status, next_attempt_at);
