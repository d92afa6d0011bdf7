-- Backorder claims (schema 000022): what order lines wait for at a level beyond what they hold.
-- Every statement here runs with the claim's level locked FOR UPDATE (the stock engine), so
-- stock_levels.backordered moves with the claims in the same statement.

-- name: BackorderAdd :exec
-- Records a line's claim and adds it to its level's backordered.
WITH level AS (
  UPDATE stock_levels l SET backordered = l.backordered + @quantity::bigint, version = l.version + 1, updated_at = @now
  WHERE l.brand_id = @brand_id AND l.product_id = @product_id AND l.location_id = @location_id
  RETURNING l.brand_id
)
INSERT INTO order_backorders (brand_id, order_id, line_id, order_number, product_id, location_id, quantity)
SELECT level.brand_id, @order_id, @line_id, @order_number, @product_id, @location_id, @quantity::bigint FROM level;

-- name: BackorderQueue :many
-- The claims waiting at a level, oldest order first (by number, then line), at most @row_limit.
SELECT * FROM order_backorders
WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id
ORDER BY order_number, line_id
LIMIT @row_limit;

-- name: BackorderTake :exec
-- Takes @quantity (at most the claim's) off a line's claim at its level, deleting the claim when
-- nothing is left, and off the level's backordered.
WITH less AS (
  UPDATE order_backorders b SET quantity = b.quantity - @quantity::bigint
  WHERE b.brand_id = @brand_id AND b.order_id = @order_id AND b.line_id = @line_id AND b.quantity > @quantity::bigint
  RETURNING 1
), gone AS (
  DELETE FROM order_backorders d
  WHERE d.brand_id = @brand_id AND d.order_id = @order_id AND d.line_id = @line_id AND d.quantity = @quantity::bigint
  RETURNING 1
)
UPDATE stock_levels l SET backordered = l.backordered - @quantity::bigint, version = l.version + 1, updated_at = @now
WHERE l.brand_id = @brand_id AND l.product_id = @product_id AND l.location_id = @location_id
  AND EXISTS (SELECT 1 FROM less UNION ALL SELECT 1 FROM gone);

-- name: BackordersDrop :exec
-- Drops every claim of an order (a cancellation), and takes them off their levels' backordered.
WITH gone AS (
  DELETE FROM order_backorders d WHERE d.brand_id = @brand_id AND d.order_id = @order_id
  RETURNING d.product_id, d.location_id, d.quantity
), per AS (
  SELECT product_id, location_id, sum(quantity)::bigint AS quantity FROM gone GROUP BY product_id, location_id
)
UPDATE stock_levels l SET backordered = l.backordered - per.quantity, version = l.version + 1, updated_at = @now
FROM per
WHERE l.brand_id = @brand_id AND l.product_id = per.product_id AND l.location_id = per.location_id;

-- name: OrderBackorders :many
-- The claims of orders, by order and line.
SELECT * FROM order_backorders WHERE brand_id = @brand_id AND order_id = ANY(@order_ids::uuid[])
ORDER BY order_id, line_id;

-- name: OrderAllocationGrow :exec
-- A filled claim becomes (part of) the line's hold at its location: a new allocation, or more of
-- the one the line already has there.
INSERT INTO order_allocations (brand_id, order_id, line_id, seq, product_id, location_id, quantity)
VALUES (@brand_id, @order_id, @line_id,
        (SELECT coalesce(max(a.seq) + 1, 0) FROM order_allocations a
         WHERE a.brand_id = @brand_id AND a.order_id = @order_id AND a.line_id = @line_id),
        @product_id, @location_id, @quantity)
ON CONFLICT (brand_id, order_id, line_id, location_id) DO UPDATE SET quantity = order_allocations.quantity + excluded.quantity;

-- name: BackorderMismatches :many
-- Levels whose backordered is not the sum of their claims. Always empty (beside the other stock
-- invariants).
SELECT l.product_id, l.location_id, l.backordered, coalesce(c.quantity, 0)::bigint AS claimed
FROM stock_levels l
LEFT JOIN LATERAL (
  SELECT sum(b.quantity)::bigint AS quantity FROM order_backorders b
  WHERE b.brand_id = l.brand_id AND b.product_id = l.product_id AND b.location_id = l.location_id
) c ON true
WHERE l.brand_id = @brand_id AND l.backordered <> coalesce(c.quantity, 0)
ORDER BY l.product_id, l.location_id;
