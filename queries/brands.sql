-- name: BrandCreate :one
-- Creates a brand unless its slug is taken: no row means the caller should try another slug.
INSERT INTO brands (id, name, slug, currency, created_at, updated_at)
VALUES (@id, @name, @slug, @currency, @now, @now)
ON CONFLICT (slug) DO NOTHING
RETURNING *;
