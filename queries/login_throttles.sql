-- name: LoginThrottleRecordFailure :one
-- Counts one failed login against a throttle row, atomically. From the max_failures-th failure
-- on, the row is locked for base_seconds, doubling with each further failure, at most
-- max_seconds. A row whose last failure is older than window_seconds and that is not locked
-- starts again from one: old typos do not add up to a lockout.
-- (sqlc.arg() rather than @name: sqlc mis-rewrites @name casts inside a CASE.)
INSERT INTO login_throttles AS t (email_key, ip, failures, locked_until, last_failure_at)
VALUES (
  sqlc.arg(email_key), sqlc.arg(ip)::text, 1,
  CASE WHEN sqlc.arg(max_failures)::int <= 1 THEN
    sqlc.arg(now)::timestamptz + interval '1 second' * least(sqlc.arg(base_seconds)::float8, sqlc.arg(max_seconds)::float8)
  END,
  sqlc.arg(now)::timestamptz)
ON CONFLICT (email_key, ip) DO UPDATE
SET failures = CASE
      WHEN t.last_failure_at <= sqlc.arg(now)::timestamptz - interval '1 second' * sqlc.arg(window_seconds)::float8
           AND (t.locked_until IS NULL OR t.locked_until <= sqlc.arg(now)::timestamptz) THEN 1
      ELSE t.failures + 1
    END,
    locked_until = CASE
      WHEN t.last_failure_at <= sqlc.arg(now)::timestamptz - interval '1 second' * sqlc.arg(window_seconds)::float8
           AND (t.locked_until IS NULL OR t.locked_until <= sqlc.arg(now)::timestamptz) THEN excluded.locked_until
      WHEN t.failures + 1 >= sqlc.arg(max_failures)::int THEN
        sqlc.arg(now)::timestamptz + interval '1 second' * least(
          sqlc.arg(base_seconds)::float8 * power(2, least(t.failures + 1 - sqlc.arg(max_failures)::int, 30)),
          sqlc.arg(max_seconds)::float8)
      ELSE t.locked_until
    END,
    last_failure_at = sqlc.arg(now)::timestamptz
RETURNING failures, locked_until;

-- name: LoginThrottleLockedUntil :one
-- The latest lock, if any, on this email from this address or on the email as a whole. No row:
-- not throttled.
SELECT locked_until::timestamptz
FROM login_throttles
WHERE email_key = @email_key AND ip IN (@ip::text, '*') AND locked_until > @now::timestamptz
ORDER BY locked_until DESC
LIMIT 1;

-- name: LoginThrottleReset :exec
-- The right password from this address: its count and the email's overall count start again.
-- Other addresses stay throttled (an attacker's included).
DELETE FROM login_throttles WHERE email_key = @email_key AND ip IN (@ip::text, '*');

-- name: LoginThrottlePrune :execrows
-- Deletes the rows whose failures are forgotten anyway (see LoginThrottleRecordFailure).
DELETE FROM login_throttles
WHERE last_failure_at < @before AND (locked_until IS NULL OR locked_until < @before);
