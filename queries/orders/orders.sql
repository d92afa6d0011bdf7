-- name: OrderProducts :many
-- The products an order names, priced as they are now (missing ones are absent).
SELECT id, sku, name, price_amount, currency, status FROM products
WHERE brand_id = @brand_id AND id = ANY(@ids::uuid[]);

-- name: OrderCreate :one
-- Numbers the order and writes its row, in one statement, the last of the creation before its
-- history: it takes the brand's next number, and the counter row stays locked until the order's
-- transaction ends, so numbers are gapless: a rolled-back order gives its number back. Every order
-- of the brand waits for that row, so it is taken when the stock is held and the lines written
-- (their references to the order are checked at COMMIT, schema/000025): the row is held for this
-- statement, the history and the COMMIT only.
WITH counter AS (
  INSERT INTO order_counters (brand_id, last_number) VALUES (@brand_id, 1001)
  ON CONFLICT (brand_id) DO UPDATE SET last_number = order_counters.last_number + 1
  RETURNING last_number
)
INSERT INTO orders (brand_id, id, number, currency, subtotal, total, customer_email, customer_name,
                    customer_phone, shipping_address, note, external_reference, reservation_id,
                    created_by, created_at, updated_at, customer_id, shipping_amount, shipping_method,
                    discounts, tax_lines, discount_total, tax_total)
SELECT @brand_id, @id, counter.last_number, @currency, @subtotal, @total, @customer_email, @customer_name,
       sqlc.narg(customer_phone), @shipping_address, sqlc.narg(note), sqlc.narg(external_reference),
       sqlc.narg(reservation_id)::uuid, sqlc.narg(created_by)::uuid, @now, @now, sqlc.narg(customer_id)::uuid,
       @shipping_amount, sqlc.narg(shipping_method), @discounts, @tax_lines, @discount_total, @tax_total
FROM counter
RETURNING *;

-- name: OrderLinesAdd :exec
-- option_values: the variant's, as it is sold (a product that is not a variant has none).
INSERT INTO order_lines (brand_id, order_id, id, line_no, product_id, sku, name, price_amount, currency,
                         quantity, line_total, discounts, tax_lines, discount_total, tax_total, option_values)
SELECT x.brand_id, x.order_id, x.id, x.line_no, x.product_id, x.sku, x.name, x.price_amount, x.currency,
       x.quantity, x.line_total, x.discounts, x.tax_lines, x.discount_total, x.tax_total,
       coalesce((SELECT p.option_values FROM products p WHERE p.brand_id = x.brand_id AND p.id = x.product_id), '[]')
FROM (SELECT @brand_id::uuid AS brand_id, @order_id::uuid AS order_id, unnest(@ids::uuid[]) AS id,
             unnest(@line_nos::int[]) AS line_no, unnest(@product_ids::uuid[]) AS product_id,
             unnest(@skus::text[]) AS sku, unnest(@names::text[]) AS name,
             unnest(@prices::bigint[]) AS price_amount, @currency::text AS currency,
             unnest(@quantities::bigint[]) AS quantity, unnest(@line_totals::bigint[]) AS line_total,
             unnest(@discounts::text[])::jsonb AS discounts, unnest(@tax_lines::text[])::jsonb AS tax_lines,
             unnest(@discount_totals::bigint[]) AS discount_total, unnest(@tax_totals::bigint[]) AS tax_total) AS x;

-- name: OrderGet :one
SELECT * FROM orders WHERE brand_id = @brand_id AND id = @id;

-- name: OrderLock :one
-- Locks the order first (the lock order's first step): transitions of one order serialize here.
-- FOR NO KEY UPDATE (what an UPDATE of the row takes anyway), not FOR UPDATE: a receipt that fills
-- the order's backorder appends a movement naming the order under its level's lock, and that
-- foreign key check (FOR KEY SHARE) must not wait for a transition that waits for the level. (The
-- fill's version bump, OrdersBackorderFilled, does wait for the order.)
SELECT * FROM orders WHERE brand_id = @brand_id AND id = @id FOR NO KEY UPDATE;

-- name: OrderLines :many
SELECT * FROM order_lines WHERE brand_id = @brand_id AND order_id = ANY(@order_ids::uuid[])
ORDER BY order_id, line_no;

-- name: OrderTransition :one
-- Moves a locked order to a new status, bumping its version.
UPDATE orders
SET status = @status, version = version + 1, updated_at = @now,
    payment_reference = coalesce(sqlc.narg(payment_reference), payment_reference),
    confirmed_at = CASE WHEN @status = 'confirmed'::order_status THEN @now ELSE confirmed_at END,
    cancelled_at = CASE WHEN @status = 'cancelled'::order_status THEN @now ELSE cancelled_at END,
    cancel_reason = CASE WHEN @status = 'cancelled'::order_status THEN sqlc.narg(cancel_reason) ELSE cancel_reason END
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: OrderLineFulfil :exec
UPDATE order_lines SET fulfilled_quantity = fulfilled_quantity + @quantity
WHERE brand_id = @brand_id AND id = @id;

-- name: OrderEventAdd :exec
INSERT INTO order_events (brand_id, order_id, id, action, from_status, status, actor_id, reason, request_id, created_at)
VALUES (@brand_id, @order_id, @id, @action, sqlc.narg(from_status), @status, sqlc.narg(actor_id),
        sqlc.narg(reason), sqlc.narg(request_id), @now);

-- name: OrderEvents :many
SELECT * FROM order_events
WHERE brand_id = @brand_id AND order_id = @order_id
  AND (sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: OrderList :many
-- Newest first, keyset by id (UUIDv7). q matches the number, the customer's email (any case) or the
-- external reference exactly.
SELECT * FROM orders
WHERE brand_id = @brand_id
  AND (sqlc.narg(status)::order_status IS NULL OR status = sqlc.narg(status)::order_status)
  AND (sqlc.narg(created_after)::timestamptz IS NULL OR created_at >= sqlc.narg(created_after)::timestamptz)
  AND (sqlc.narg(created_before)::timestamptz IS NULL OR created_at < sqlc.narg(created_before)::timestamptz)
  AND (sqlc.narg(q)::text IS NULL
       OR number = sqlc.narg(q_number)::bigint
       OR lower(customer_email) = lower(sqlc.narg(q)::text)
       OR external_reference = sqlc.narg(q)::text)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: FulfilmentCreate :one
INSERT INTO fulfilments (brand_id, order_id, id, carrier, tracking_number, created_by, created_at)
VALUES (@brand_id, @order_id, @id, sqlc.narg(carrier), sqlc.narg(tracking_number), sqlc.narg(created_by), @now)
RETURNING *;

-- name: FulfilmentLinesAdd :exec
INSERT INTO fulfilment_lines (brand_id, order_id, fulfilment_id, line_id, quantity)
SELECT @brand_id::uuid, @order_id::uuid, @fulfilment_id::uuid, unnest(@line_ids::uuid[]), unnest(@quantities::bigint[]);

-- name: FulfilmentList :many
-- An order's fulfilments, newest first, keyset by id.
SELECT * FROM fulfilments
WHERE brand_id = @brand_id AND order_id = @order_id
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: FulfilmentLines :many
SELECT * FROM fulfilment_lines
WHERE brand_id = @brand_id AND fulfilment_id = ANY(@fulfilment_ids::uuid[])
ORDER BY fulfilment_id, line_id;

-- name: OrdersDue :many
-- The sweeper's work list across brands (a policy lets it see pending orders only when
-- app.sweeper is on), oldest first.
SELECT brand_id, id FROM orders
WHERE status = 'pending' AND created_at <= @cutoff
ORDER BY created_at
LIMIT @row_limit;

-- name: OrderLockDue :one
-- Locks one pending order past its TTL for the sweeper; none when a transition (or another
-- sweeper) holds it (SKIP LOCKED) or it moved on meanwhile: each order is expired once. FOR NO
-- KEY UPDATE as OrderLock: a receipt filling the order's backorder must not wait for it.
SELECT * FROM orders
WHERE brand_id = @brand_id AND id = @id AND status = 'pending' AND created_at <= @cutoff
FOR NO KEY UPDATE SKIP LOCKED;

-- name: OrdersBackorderFilled :many
-- The orders a fill gave stock to, in the filling transaction (server/orders/filled.go): each
-- one's version is bumped, the orders locked in id order. That transaction holds the level's lock
-- and here waits for an order a transition holds; a transition (OrderLock) locks its order before
-- its levels, so one that waits for this level is a deadlock, which PostgreSQL breaks and the
-- aborted side runs again (kit.Retry). Only a cancellation, fulfilment or return of a backordered
-- order while stock arrives where it waits can meet it.
UPDATE orders SET version = version + 1, updated_at = @now
WHERE orders.brand_id = @brand_id AND orders.id IN (
  SELECT l.id FROM orders l WHERE l.brand_id = @brand_id AND l.id = ANY(@ids::uuid[])
  ORDER BY l.id
  FOR NO KEY UPDATE)
RETURNING *;

-- name: OrderBackorderFillsAdd :exec
-- The fills' history rows (ids: UUIDv7, one per order), the order's status unchanged.
INSERT INTO order_events (brand_id, order_id, id, action, from_status, status, actor_id, request_id, created_at)
SELECT o.brand_id, o.id, x.id, 'backorder_fill'::order_action, o.status, o.status, sqlc.narg(actor_id)::uuid,
       sqlc.narg(request_id)::text, @now
FROM (SELECT unnest(@order_ids::uuid[]) AS order_id, unnest(@ids::uuid[]) AS id) AS x
JOIN orders o ON o.brand_id = @brand_id AND o.id = x.order_id;
