-- name: ProductsAvailability :many
-- The status of the products a stock change names (missing ones are absent).
SELECT id, sku, name, status FROM products WHERE brand_id = @brand_id AND id = ANY(@ids::uuid[]);

-- name: LevelsEnsure :exec
-- Creates the empty levels a change will move stock into, in the shared lock order (product,
-- location), so that two transactions creating the same levels cannot deadlock. A level is created
-- in the transaction of its first movement: rolled back with it when that fails.
INSERT INTO stock_levels (brand_id, product_id, location_id, updated_at)
SELECT @brand_id::uuid, x.p, x.l, @now::timestamptz
FROM (SELECT unnest(@product_ids::uuid[]) AS p, unnest(@location_ids::uuid[]) AS l) AS x
ORDER BY x.p, x.l
ON CONFLICT DO NOTHING;

-- name: LevelsLock :many
-- Locks the levels of the given products at the given locations (their cross product) in the
-- shared lock order. Every change of on_hand or reserved happens under this lock.
SELECT * FROM stock_levels
WHERE brand_id = @brand_id AND product_id = ANY(@product_ids::uuid[]) AND location_id = ANY(@location_ids::uuid[])
ORDER BY product_id, location_id
FOR UPDATE;

-- name: StockMove :one
-- The only statement that changes a level's quantities: it applies the deltas and appends the
-- movement with the resulting quantities, so the ledger always sums to the level. The level must
-- exist and be locked (LevelsLock); the CHECK constraint refuses an oversell a bug lets through.
WITH level AS (
  UPDATE stock_levels
  SET on_hand = on_hand + @on_hand_delta::bigint,
      reserved = reserved + @reserved_delta::bigint,
      version = version + 1,
      updated_at = @now
  WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id
  RETURNING on_hand, reserved
)
INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
                             on_hand_after, reserved_after, reason, reference, reservation_id, order_id,
                             actor_id, request_id, created_at)
SELECT @brand_id, @id, @product_id, @location_id, @kind, @on_hand_delta::bigint, @reserved_delta::bigint,
       level.on_hand, level.reserved, sqlc.narg(reason), sqlc.narg(reference), sqlc.narg(reservation_id),
       sqlc.narg(order_id), sqlc.narg(actor_id), sqlc.narg(request_id), @now
FROM level
RETURNING *;

-- name: LevelGet :one
SELECT * FROM stock_levels WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id;

-- name: LevelSetReorderPoint :one
UPDATE stock_levels
SET reorder_point = sqlc.narg(reorder_point)::bigint, version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: LevelList :many
-- Keyset by (product, location), with the product's SKU and name for display.
SELECT l.*, p.sku, p.name AS product_name
FROM stock_levels l
JOIN products p ON p.brand_id = l.brand_id AND p.id = l.product_id
WHERE l.brand_id = @brand_id
  AND (sqlc.narg(product_id)::uuid IS NULL OR l.product_id = sqlc.narg(product_id)::uuid)
  AND (sqlc.narg(location_id)::uuid IS NULL OR l.location_id = sqlc.narg(location_id)::uuid)
  AND (NOT @below_reorder_point::boolean
       OR (l.reorder_point IS NOT NULL AND l.on_hand - l.reserved < l.reorder_point))
  AND (sqlc.narg(after_product)::uuid IS NULL
       OR (l.product_id, l.location_id) > (sqlc.narg(after_product)::uuid, sqlc.narg(after_location)::uuid))
ORDER BY l.product_id, l.location_id
LIMIT @row_limit;

-- name: LevelsOfProduct :many
-- A product's levels at every location that has one, with the location's code, by code.
SELECT l.*, loc.code AS location_code
FROM stock_levels l
JOIN locations loc ON loc.brand_id = l.brand_id AND loc.id = l.location_id
WHERE l.brand_id = @brand_id AND l.product_id = @product_id
ORDER BY loc.code;

-- name: MovementList :many
-- Newest first, keyset by id (UUIDv7).
SELECT * FROM stock_movements
WHERE brand_id = @brand_id
  AND (sqlc.narg(product_id)::uuid IS NULL OR product_id = sqlc.narg(product_id)::uuid)
  AND (sqlc.narg(location_id)::uuid IS NULL OR location_id = sqlc.narg(location_id)::uuid)
  AND (sqlc.narg(kind)::movement_kind IS NULL OR kind = sqlc.narg(kind)::movement_kind)
  AND (sqlc.narg(reference)::text IS NULL OR reference = sqlc.narg(reference)::text)
  AND (sqlc.narg(reservation_id)::uuid IS NULL OR reservation_id = sqlc.narg(reservation_id)::uuid)
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR created_at >= sqlc.narg(created_after)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR created_at < sqlc.narg(created_before)::timestamptz)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: LedgerMismatches :many
-- Levels whose movements do not sum to their quantities: always empty (tests and the load harness
-- assert it).
SELECT l.product_id, l.location_id, l.on_hand, l.reserved,
       coalesce(sum(m.on_hand_delta), 0)::bigint AS on_hand_sum,
       coalesce(sum(m.reserved_delta), 0)::bigint AS reserved_sum
FROM stock_levels l
LEFT JOIN stock_movements m
  ON m.brand_id = l.brand_id AND m.product_id = l.product_id AND m.location_id = l.location_id
WHERE l.brand_id = @brand_id
GROUP BY l.brand_id, l.product_id, l.location_id, l.on_hand, l.reserved
HAVING l.on_hand <> coalesce(sum(m.on_hand_delta), 0) OR l.reserved <> coalesce(sum(m.reserved_delta), 0);
