-- Leasify ID: personnummer and BankID orders (PostgreSQL).
-- Keep in step with migrations/sqlite/0003_personnummer_bankid.sql (same tables, same columns).

-- At most one personnummer per user: sealed with the secret box (the user id as associated data)
-- and found through a keyed blind index. Never stored in plain text.
CREATE TABLE personnummer (
    user_id          TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed           BYTEA   NOT NULL,
    blind_index      TEXT    NOT NULL UNIQUE,
    bankid_linked_at BIGINT,
    updated_at       BIGINT  NOT NULL
);

-- BankID orders we started (login or linking); finished ones are kept for audit until purged.
-- Deleting the user sets `user_id` to NULL and keeps the row.
CREATE TABLE bankid_orders (
    order_ref              TEXT    NOT NULL PRIMARY KEY,
    purpose                TEXT    NOT NULL,
    browser_binding        TEXT    NOT NULL,
    user_id                TEXT    REFERENCES users (id) ON DELETE SET NULL,
    pending_authorization  TEXT,
    next_path              TEXT,
    auto_start_token       TEXT    NOT NULL,
    qr_start_token         TEXT    NOT NULL,
    qr_start_secret_sealed BYTEA   NOT NULL,
    started_at             BIGINT  NOT NULL,
    status                 TEXT    NOT NULL DEFAULT 'pending'
                                   CHECK (status IN ('pending', 'complete', 'failed',
                                                     'cancelled', 'consumed')),
    hint_code              TEXT,
    completion_sealed      BYTEA,
    end_user_ip            TEXT    NOT NULL,
    last_collect_at        BIGINT,
    created_at             BIGINT  NOT NULL,
    finished_at            BIGINT
);
CREATE INDEX bankid_orders_user_id_idx ON bankid_orders (user_id);
CREATE INDEX bankid_orders_status_finished_at_idx ON bankid_orders (status, finished_at);
CREATE INDEX bankid_orders_created_at_idx ON bankid_orders (created_at);
