-- name: IdempotencyLock :one
-- Claims the key for this transaction; false while another request with the key runs.
SELECT pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 0))::boolean AS locked;

-- name: IdempotencyGet :one
SELECT * FROM idempotency_keys
WHERE user_id = @user_id AND operation = @operation AND key = @key AND expires_at > @now;

-- name: IdempotencyPut :exec
-- Stores the first answer (replacing an expired key's).
INSERT INTO idempotency_keys (user_id, operation, key, fingerprint, status, headers, body, created_at, expires_at, brand_id)
VALUES (@user_id, @operation, @key, @fingerprint, @status, @headers, @body, @now, @expires_at, @brand_id)
ON CONFLICT (user_id, operation, key) DO UPDATE
SET fingerprint = excluded.fingerprint, status = excluded.status, headers = excluded.headers,
    body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at,
    brand_id = excluded.brand_id;

-- name: IdempotencyRefusedCount :one
-- How many live refused (4xx) answers the brand holds, counted up to @max_count only: the scan of
-- the partial index stops there, however many there are.
SELECT count(*)::int AS refused FROM (
  SELECT 1 FROM idempotency_keys
  WHERE brand_id = @brand_id AND status >= 400 AND expires_at > @now
  LIMIT @max_count::int
) AS live;

-- name: IdempotencyPrune :execrows
DELETE FROM idempotency_keys WHERE expires_at <= @now;
