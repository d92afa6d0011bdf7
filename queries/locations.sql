-- name: LocationCreate :one
INSERT INTO locations (brand_id, id, code, name, address, active, created_at, updated_at)
VALUES (@brand_id, @id, @code, @name, @address, @active, @now, @now)
RETURNING *;

-- name: LocationGet :one
SELECT * FROM locations WHERE brand_id = @brand_id AND id = @id;

-- name: LocationGetForUpdate :one
-- Locks the location: stock writers hold it FOR SHARE, so a deactivation waits for them and they
-- for it; no stock can arrive at a location while it is being deactivated.
SELECT * FROM locations WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: LocationList :many
-- Keyset by id (UUIDv7: creation order).
SELECT * FROM locations
WHERE brand_id = @brand_id
  AND (sqlc.narg(active)::boolean IS NULL OR active = sqlc.narg(active)::boolean)
  AND (sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: LocationUpdate :one
-- Changes the fields given, only at one of the expected versions when If-Match names some.
UPDATE locations
SET code = coalesce(sqlc.narg(code)::text, code),
    name = coalesce(sqlc.narg(name)::text, name),
    address = CASE WHEN @clear_address::boolean THEN NULL
                   ELSE coalesce(sqlc.narg(address)::jsonb, address) END,
    active = coalesce(sqlc.narg(active)::boolean, active),
    version = version + 1,
    updated_at = @now
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: LocationInUse :one
-- Whether the location holds stock on hand or live holds (reserved counts every hold).
SELECT EXISTS (
  SELECT 1 FROM stock_levels
  WHERE brand_id = @brand_id AND location_id = @location_id AND (on_hand > 0 OR reserved > 0)
)::boolean AS in_use;

-- name: LocationsLockShared :many
-- The locations a stock change touches, locked FOR SHARE in id order (the shared lock order): the
-- given ids, and every active one of the brand when all_active is set (allocation picks among them).
SELECT id, code, active FROM locations
WHERE brand_id = @brand_id
  AND (id = ANY(@ids::uuid[]) OR (@all_active::boolean AND active))
ORDER BY id
FOR SHARE;
