-- Login throttling that neither tells accounts apart nor lets a stranger lock a user out
-- (issue 9, items 8 and 9), and the acting user of every audit event (item 13).

-- Failed logins, counted per (email, client address) and per email alone. The email is a keyed
-- hash of its lowercased form, so unknown and known emails are counted alike (an answer never
-- differs by whether an account exists) and the table holds no address in clear. ip = '*' is the
-- per-email row: its ceiling is much higher than the per-address one, so one client can only
-- throttle itself, and only many addresses together can throttle an account.
CREATE TABLE login_throttles (
  email_key       bytea NOT NULL,
  ip              text NOT NULL,
  failures        integer NOT NULL,
  locked_until    timestamptz,
  last_failure_at timestamptz NOT NULL,
  PRIMARY KEY (email_key, ip)
);
-- Pruning of rows whose failures are forgotten.
CREATE INDEX login_throttles_last_failure_idx ON login_throttles (last_failure_at);

-- The per-account counter it replaces.
ALTER TABLE users DROP COLUMN failed_logins, DROP COLUMN locked_until;

-- Who did it: the authenticated caller (an ADMIN disabling a user, an owner inviting), or the user
-- itself when it proved who it is (register, login, accepting an invitation); null when nobody was
-- authenticated (a failed login). It references users, not sessions, so it outlives the pruning of
-- the actor's sessions.
ALTER TABLE audit_events ADD COLUMN actor_id uuid REFERENCES users (id) ON DELETE SET NULL;
