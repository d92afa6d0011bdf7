ALTER TABLE audit_events DROP COLUMN actor_id;
ALTER TABLE users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0, ADD COLUMN locked_until timestamptz;
DROP TABLE login_throttles;
