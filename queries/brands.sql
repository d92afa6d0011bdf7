-- name: BrandCreate :one
-- Creates a brand unless its slug is taken: no row means the caller should try another slug.
INSERT INTO brands (id, name, slug, currency, created_at, updated_at)
VALUES (@id, @name, @slug, @currency, @now, @now)
ON CONFLICT (slug) DO NOTHING
RETURNING *;

-- name: BrandGet :one
SELECT * FROM brands WHERE id = @id;

-- name: BrandList :many
-- Keyset pagination by id (UUIDv7, creation order).
SELECT * FROM brands
WHERE sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid
ORDER BY id
LIMIT @row_limit;

-- name: BrandUpdate :one
-- Changes the fields given, only at one of the expected versions when If-Match names some. No row:
-- the brand is missing or the version stale.
UPDATE brands
SET name = coalesce(sqlc.narg(name)::text, name),
    currency = coalesce(sqlc.narg(currency)::text, currency),
    version = version + 1,
    updated_at = @now
WHERE id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;
