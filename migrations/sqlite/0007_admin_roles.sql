-- Leasify ID: administrators' roles, for the admin console (SQLite).
-- Keep in step with migrations/postgres/0007_admin_roles.sql.

-- An administrator is an ordinary user with a role: `admin` (everything) or `support` (users
-- only). At most one role per user; deleting the user takes the role with them.
CREATE TABLE admin_roles (
    user_id    TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'support')),
    granted_at INTEGER NOT NULL
) STRICT;
