-- name: IdempotencyLock :one
-- Claims the key for this transaction; false while another request with the key runs.
SELECT pg_try_advisory_xact_lock(hashtextextended(@lock_key::text, 0))::boolean AS locked;

-- name: IdempotencyGet :one
SELECT * FROM idempotency_keys
WHERE user_id = @user_id AND operation = @operation AND key = @key AND expires_at > @now;

-- name: IdempotencyPut :execrows
-- Stores the first answer (replacing an expired key's). A refusal (status >= 400) is stored only
-- while the brand holds fewer than @max_refused live refusals: the count is part of this one
-- statement, so it adds no round trip to a transaction that may hold a stock row's lock. The
-- count stops at @max_refused however many there are.
INSERT INTO idempotency_keys (user_id, operation, key, fingerprint, status, headers, body, created_at, expires_at, brand_id)
SELECT @user_id::uuid, @operation::text, @key::text, @fingerprint::bytea, @status::int, @headers::jsonb,
       @body::bytea, @now::timestamptz, @expires_at::timestamptz, sqlc.narg('brand_id')::uuid
WHERE @status::int < 400
   OR sqlc.narg('brand_id')::uuid IS NULL
   OR (SELECT count(*) FROM (
         SELECT 1 FROM idempotency_keys
         WHERE brand_id = sqlc.narg('brand_id')::uuid AND status >= 400 AND expires_at > @now::timestamptz
         LIMIT @max_refused::int
       ) AS live) < @max_refused::int
ON CONFLICT (user_id, operation, key) DO UPDATE
SET fingerprint = excluded.fingerprint, status = excluded.status, headers = excluded.headers,
    body = excluded.body, created_at = excluded.created_at, expires_at = excluded.expires_at,
    brand_id = excluded.brand_id;

-- name: IdempotencyPrune :execrows
DELETE FROM idempotency_keys WHERE expires_at <= @now;
