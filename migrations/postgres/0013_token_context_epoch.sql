-- Leasify ID: telling other instances that a token may have ended (PostgreSQL).
-- Keep in step with migrations/sqlite/0013_token_context_epoch.sql.

-- Every change that can end an access token (a grant revoked or deleted, a user changed or
-- deleted, an access token revoked) sends a notification on the channel `token_context` when
-- its transaction commits. Every instance LISTENs and empties its in-memory token contexts on
-- one (src/store/token_context_cache.rs), so a change is seen elsewhere within a second. A
-- notification, unlike a counter row, takes no lock that concurrent revocations would queue on,
-- and is delivered only if the change commits.
CREATE FUNCTION notify_token_context_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('token_context', 'changed');
    RETURN NULL;
END
$$;

-- The table exists on both backends so their schemas stay alike; PostgreSQL does not use it.
CREATE TABLE token_context_epoch (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    epoch BIGINT  NOT NULL
);
INSERT INTO token_context_epoch (id, epoch) VALUES (1, 0);

CREATE TRIGGER grants_update_ends_tokens AFTER UPDATE OF revoked_at ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_token_context_change();
CREATE TRIGGER grants_delete_ends_tokens AFTER DELETE ON grants
    FOR EACH STATEMENT EXECUTE FUNCTION notify_token_context_change();
CREATE TRIGGER users_update_ends_tokens AFTER UPDATE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_token_context_change();
CREATE TRIGGER users_delete_ends_tokens AFTER DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION notify_token_context_change();
CREATE TRIGGER revoked_access_tokens_insert_ends_tokens AFTER INSERT ON revoked_access_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION notify_token_context_change();
