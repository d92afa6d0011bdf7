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
                             actor_id, request_id, created_at, unit_cost, average_cost, purchase_order_id)
SELECT @brand_id, @id, @product_id, @location_id, @kind, @on_hand_delta::bigint, @reserved_delta::bigint,
       level.on_hand, level.reserved, sqlc.narg(reason), sqlc.narg(reference), sqlc.narg(reservation_id),
       sqlc.narg(order_id), sqlc.narg(actor_id), sqlc.narg(request_id), @now, sqlc.narg(unit_cost)::bigint, sqlc.narg(average_cost)::bigint,
       sqlc.narg(purchase_order_id)::uuid
FROM level
RETURNING *;

-- name: LevelsExpiredHeld :many
-- What holds of expired, not yet released reservations keep in reserved at the given levels (their
-- cross product; levels without any are absent): subtracted from reserved, as they never count
-- against availability. A few rows of level_hold_expiries per level (one per second holds
-- expire at), however many holds.
SELECT product_id, location_id, sum(quantity)::bigint AS quantity
FROM level_hold_expiries
WHERE brand_id = @brand_id AND product_id = ANY(@product_ids::uuid[]) AND location_id = ANY(@location_ids::uuid[])
  AND expires_at <= @now
GROUP BY product_id, location_id;

-- name: LevelGet :one
SELECT * FROM stock_levels WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id;

-- name: LevelSetReorderPoint :one
UPDATE stock_levels
SET reorder_point = sqlc.narg(reorder_point)::bigint,
    reorder_quantity = CASE WHEN @set_reorder_quantity::boolean THEN sqlc.narg(reorder_quantity)::bigint ELSE reorder_quantity END,
    version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: LevelList :many
-- Keyset by (product, location), with the product's SKU and name for display, and what expired
-- holds not yet released keep in reserved (not counted as reserved: LevelsExpiredHeld).
SELECT l.*, p.sku, p.name AS product_name, p.option_values, x.quantity AS expired_held
FROM stock_levels l
JOIN products p ON p.brand_id = l.brand_id AND p.id = l.product_id
CROSS JOIN LATERAL (
  SELECT coalesce(sum(e.quantity), 0)::bigint AS quantity FROM level_hold_expiries e
  WHERE e.brand_id = l.brand_id AND e.product_id = l.product_id AND e.location_id = l.location_id
    AND e.expires_at <= @now
) x
WHERE l.brand_id = @brand_id
  AND (sqlc.narg(product_id)::uuid IS NULL OR l.product_id = sqlc.narg(product_id)::uuid)
  AND (sqlc.narg(location_id)::uuid IS NULL OR l.location_id = sqlc.narg(location_id)::uuid)
  AND (NOT @below_reorder_point::boolean
       OR (l.reorder_point IS NOT NULL AND l.on_hand - l.reserved + x.quantity < l.reorder_point))
  AND (sqlc.narg(after_product)::uuid IS NULL
       OR (l.product_id, l.location_id) > (sqlc.narg(after_product)::uuid, sqlc.narg(after_location)::uuid))
ORDER BY l.product_id, l.location_id
LIMIT @row_limit;

-- name: LevelsOfProduct :many
-- A product's levels at every location that has one, with the location's code, by code.
SELECT l.*, loc.code AS location_code, x.quantity AS expired_held
FROM stock_levels l
JOIN locations loc ON loc.brand_id = l.brand_id AND loc.id = l.location_id
CROSS JOIN LATERAL (
  SELECT coalesce(sum(e.quantity), 0)::bigint AS quantity FROM level_hold_expiries e
  WHERE e.brand_id = l.brand_id AND e.product_id = l.product_id AND e.location_id = l.location_id
    AND e.expires_at <= @now
) x
WHERE l.brand_id = @brand_id AND l.product_id = @product_id
ORDER BY loc.code;

-- name: LevelsExportPage :many
-- The brand's stock levels by SKU then location code, after (after_sku, after_code), a batch at a
-- time (the stock export).
SELECT p.sku, l.code AS location_code, s.on_hand, s.reserved
FROM stock_levels s
JOIN products p ON p.brand_id = s.brand_id AND p.id = s.product_id
JOIN locations l ON l.brand_id = s.brand_id AND l.id = s.location_id
WHERE s.brand_id = @brand_id AND (p.sku, l.code) > (@after_sku::text, @after_code::text)
ORDER BY p.sku, l.code
LIMIT @max_items;
