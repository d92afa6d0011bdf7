-- name: OrderLineReturn :exec
-- Counts a returned quantity against a line (negative when a return is cancelled). The schema's
-- CHECK keeps it within what shipped; the caller checks first, under the order's lock.
UPDATE order_lines SET returned_quantity = returned_quantity + @quantity
WHERE brand_id = @brand_id AND id = @id;

-- name: OrderLinesCancelRemainder :many
-- A cancellation records what never shipped: each line's unfulfilled remainder.
UPDATE order_lines SET cancelled_quantity = quantity - fulfilled_quantity
WHERE brand_id = @brand_id AND order_id = @order_id
RETURNING *;

-- name: OrderSetCancelledTotal :exec
UPDATE orders SET cancelled_total = @cancelled_total WHERE brand_id = @brand_id AND id = @id;

-- name: OrderTouch :one
-- A locked order whose returns or refunds changed: its status (the same one, or the one the
-- returns now give it), its refunded total, a new version.
UPDATE orders
SET status = @status, refunded_total = refunded_total + @refunded, version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: ReturnCreate :one
INSERT INTO returns (brand_id, id, order_id, note, created_by, created_at, updated_at)
VALUES (@brand_id, @id, @order_id, sqlc.narg(note), sqlc.narg(created_by), @now, @now)
RETURNING *;

-- name: ReturnLinesAdd :exec
INSERT INTO return_lines (brand_id, order_id, return_id, line_id, line_no, quantity, reason)
SELECT @brand_id::uuid, @order_id::uuid, @return_id::uuid, unnest(@line_ids::uuid[]), unnest(@line_nos::int[]),
       unnest(@quantities::bigint[]), unnest(@reasons::text[])::return_reason;

-- name: ReturnGet :one
SELECT * FROM returns WHERE brand_id = @brand_id AND id = @id;

-- name: ReturnLines :many
-- The returns' lines with the product each order line sold.
SELECT rl.return_id, rl.line_id, rl.quantity, rl.reason, rl.disposition, rl.location_id, rl.write_off_reason,
       ol.product_id
FROM return_lines rl
JOIN order_lines ol ON ol.brand_id = rl.brand_id AND ol.order_id = rl.order_id AND ol.id = rl.line_id
WHERE rl.brand_id = @brand_id AND rl.return_id = ANY(@return_ids::uuid[])
ORDER BY rl.return_id, rl.line_no;

-- name: ReturnTransition :one
-- Moves a return (its order locked first) to a new status, bumping its version.
UPDATE returns
SET status = @status, version = version + 1, updated_at = @now,
    received_at = CASE WHEN @status = 'received'::return_status THEN @now ELSE received_at END,
    closed_at = CASE WHEN @status = 'closed'::return_status THEN @now ELSE closed_at END,
    cancelled_at = CASE WHEN @status = 'cancelled'::return_status THEN @now ELSE cancelled_at END
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: ReturnLineReceive :exec
UPDATE return_lines
SET disposition = @disposition, location_id = sqlc.narg(location_id), write_off_reason = sqlc.narg(write_off_reason)
WHERE brand_id = @brand_id AND return_id = @return_id AND line_id = @line_id;

-- name: ReturnList :many
-- The brand's returns (or one order's), newest first, keyset by id.
SELECT * FROM returns
WHERE brand_id = @brand_id
  AND (sqlc.narg(order_id)::uuid IS NULL OR order_id = sqlc.narg(order_id)::uuid)
  AND (sqlc.narg(status)::return_status IS NULL OR status = sqlc.narg(status)::return_status)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: RefundCreate :one
INSERT INTO refunds (brand_id, id, order_id, amount, currency, reason, shipping, lines, created_by, created_at)
VALUES (@brand_id, @id, @order_id, @amount, @currency, sqlc.narg(reason), @shipping, @lines, sqlc.narg(created_by), @now)
RETURNING *;

-- name: RefundList :many
SELECT * FROM refunds
WHERE brand_id = @brand_id AND order_id = @order_id
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: OrderListByCustomer :many
-- A customer's orders, newest first, keyset by id.
SELECT * FROM orders
WHERE brand_id = @brand_id AND customer_id = @customer_id
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;
