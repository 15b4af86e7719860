-- Leasify ID: finding audit events by kind and time (PostgreSQL).
-- Keep in step with migrations/sqlite/0009_audit_events_by_kind.sql.

-- The console's overview counts the logins of the last seven days, hour by hour: two kinds of
-- event in a time range, a small part of a trail that holds every change as well.
CREATE INDEX audit_events_kind_at_idx ON audit_events (kind, at);
