-- name: MovementList :many
-- Newest first, keyset by id (UUIDv7). kind is compared as kind_no (schema 000011: its
-- statistics count under row-level security, the enum's do not). Each filter has an index (schema 000011); the handler
-- runs it planned for its own parameters (kit.ListInBrand), so the planner picks the index of
-- the filters actually given rather than a generic plan that scans the brand's whole ledger.
SELECT * FROM stock_movements
WHERE brand_id = @brand_id
  AND (sqlc.narg(product_id)::uuid IS NULL OR product_id = sqlc.narg(product_id)::uuid)
  AND (sqlc.narg(location_id)::uuid IS NULL OR location_id = sqlc.narg(location_id)::uuid)
  AND (sqlc.narg(kind)::movement_kind IS NULL OR kind_no = CASE sqlc.narg(kind)::movement_kind
        WHEN 'receipt' THEN 1 WHEN 'adjustment' THEN 2 WHEN 'count' THEN 3 WHEN 'return' THEN 4
        WHEN 'transfer_out' THEN 5 WHEN 'transfer_in' THEN 6 WHEN 'reservation' THEN 7
        WHEN 'release' THEN 8 WHEN 'fulfilment' THEN 9 END)
  AND (sqlc.narg(reference)::text IS NULL OR reference = sqlc.narg(reference)::text)
  AND (sqlc.narg(reservation_id)::uuid IS NULL OR reservation_id = sqlc.narg(reservation_id)::uuid)
  AND (sqlc.narg(order_id)::uuid IS NULL OR order_id = sqlc.narg(order_id)::uuid)
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR created_at >= sqlc.narg(created_after)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR created_at < sqlc.narg(created_before)::timestamptz)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: MovementReceiptExists :one
-- Whether the level has already received a receipt with this reference (a CSV import's receipt
-- row imported twice receives once). Read under the level's lock.
SELECT EXISTS (
  SELECT 1 FROM stock_movements
  WHERE brand_id = @brand_id AND product_id = @product_id AND location_id = @location_id
    AND kind = 'receipt' AND reference = @reference::text
) AS received;
