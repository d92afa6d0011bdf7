-- name: APIKeyCreate :one
INSERT INTO api_keys (id, brand_id, name, secret_hash, hint, permissions, created_by, created_at, expires_at)
VALUES (@id, @brand_id, @name, @secret_hash, @hint, @permissions::text[], @created_by, @now, sqlc.narg(expires_at))
RETURNING *;

-- name: APIKeyList :many
-- Newest first, keyset by id (UUIDv7): before_id is the last id of the previous page.
SELECT * FROM api_keys
WHERE brand_id = @brand_id
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: APIKeyRevoke :one
-- Revokes the brand's live key. No row: no such key in this brand, or it was revoked before (a
-- concurrent revocation included: the row is re-checked once its lock is free).
UPDATE api_keys SET revoked_at = @now::timestamptz
WHERE brand_id = @brand_id AND id = @id AND revoked_at IS NULL
RETURNING *;

-- name: APIKeyExists :one
SELECT EXISTS (SELECT 1 FROM api_keys WHERE brand_id = @brand_id AND id = @id);

-- name: APIKeyAuthenticate :one
-- The per-request check behind a key: the key by its digest (revoked and expired ones too, so the
-- refusal can say which) and the user it acts for, in one round trip.
SELECT sqlc.embed(k), sqlc.embed(u)
FROM api_keys k
JOIN users u ON u.id = k.created_by
WHERE k.secret_hash = @secret_hash;

-- name: APIKeyTouch :exec
-- Records a use, at most once per interval whatever the number of instances: the first request
-- past the interval writes, the others find the row already fresh.
UPDATE api_keys SET last_used_at = @now::timestamptz
WHERE id = @id AND (last_used_at IS NULL OR last_used_at <= @stale_before::timestamptz);
