-- What the stock engine writes for purchasing: incoming on levels (from PO submit, receipt, cancel
-- and close) and each product's moving average cost (from receipts). Only server/inventory runs
-- these (gen/stockdb).

-- name: LevelAddIncoming :one
-- Changes a locked level's incoming (what open purchase orders bring to it) by delta.
UPDATE stock_levels
SET incoming = incoming + @delta::bigint, version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id
RETURNING *;

-- name: ProductCostLock :one
-- Locks the product's cost row (creating it, without a cost, on its first receipt): receipts of
-- one product serialize here, after their levels (the shared lock order).
INSERT INTO product_costs (brand_id, product_id, average_cost, updated_at)
VALUES (@brand_id, @product_id, NULL, @now)
ON CONFLICT (brand_id, product_id) DO UPDATE SET updated_at = product_costs.updated_at
RETURNING average_cost;

-- name: ProductOnHand :one
-- The product's stock on hand over every location (read after ProductCostLock, so a receipt that
-- committed while this one waited for the cost row is counted).
SELECT coalesce(sum(on_hand), 0)::bigint AS on_hand FROM stock_levels
WHERE brand_id = @brand_id AND product_id = @product_id;

-- name: ProductCostSet :exec
UPDATE product_costs SET average_cost = @average_cost, updated_at = @now
WHERE brand_id = @brand_id AND product_id = @product_id;

