-- Leasify ID: telling other processes that a token may have ended (SQLite).
-- Keep in step with migrations/postgres/0013_token_context_epoch.sql.

-- Every change that can end an access token (a grant revoked or deleted, a user changed or
-- deleted, an access token revoked) bumps this counter in the same transaction. A server polls
-- it and empties its in-memory token contexts when it moves (src/store/token_context_cache.rs),
-- so a change made by another process (the CLI, another instance) is seen within a second.
CREATE TABLE token_context_epoch (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
) STRICT;
INSERT INTO token_context_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER grants_update_ends_tokens AFTER UPDATE OF revoked_at ON grants
BEGIN
    UPDATE token_context_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER grants_delete_ends_tokens AFTER DELETE ON grants
BEGIN
    UPDATE token_context_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER users_update_ends_tokens AFTER UPDATE ON users
BEGIN
    UPDATE token_context_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER users_delete_ends_tokens AFTER DELETE ON users
BEGIN
    UPDATE token_context_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
CREATE TRIGGER revoked_access_tokens_insert_ends_tokens AFTER INSERT ON revoked_access_tokens
BEGIN
    UPDATE token_context_epoch SET epoch = epoch + 1 WHERE id = 1;
END;
