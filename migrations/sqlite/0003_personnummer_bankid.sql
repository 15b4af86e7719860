-- Leasify ID: personnummer and BankID orders (SQLite).
-- Keep in step with migrations/postgres/0003_personnummer_bankid.sql (same tables, same columns).

-- At most one personnummer per user: sealed with the secret box (the user id as associated data)
-- and found through a keyed blind index. Never stored in plain text.
CREATE TABLE personnummer (
    user_id          TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed           BLOB    NOT NULL,
    blind_index      TEXT    NOT NULL UNIQUE,
    bankid_linked_at INTEGER,
    updated_at       INTEGER NOT NULL
) STRICT;

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
    qr_start_secret_sealed BLOB    NOT NULL,
    started_at             INTEGER NOT NULL,
    status                 TEXT    NOT NULL DEFAULT 'pending'
                                   CHECK (status IN ('pending', 'complete', 'failed',
                                                     'cancelled', 'consumed')),
    hint_code              TEXT,
    completion_sealed      BLOB,
    end_user_ip            TEXT    NOT NULL,
    last_collect_at        INTEGER,
    created_at             INTEGER NOT NULL,
    finished_at            INTEGER
) STRICT;
CREATE INDEX bankid_orders_user_id_idx ON bankid_orders (user_id);
CREATE INDEX bankid_orders_status_finished_at_idx ON bankid_orders (status, finished_at);
CREATE INDEX bankid_orders_created_at_idx ON bankid_orders (created_at);
