-- Purchasing (server/purchasing): suppliers, purchase orders and their lines. Stock levels and the
-- ledger change only through the stock engine (queries/stock); these read them where an answer
-- needs them (reorder suggestions, valuation).

-- name: SupplierCreate :one
INSERT INTO suppliers (brand_id, id, code, name, email, currency, lead_time_days, created_at, updated_at)
VALUES (@brand_id, @id, @code, @name, sqlc.narg(email), @currency, sqlc.narg(lead_time_days), @now, @now)
RETURNING *;

-- name: SupplierGet :one
SELECT * FROM suppliers WHERE brand_id = @brand_id AND id = @id;

-- name: SupplierList :many
-- Keyset by id (UUIDv7: creation order); archived ones only when asked.
SELECT * FROM suppliers
WHERE brand_id = @brand_id
  AND (@include_archived::boolean OR archived_at IS NULL)
  AND (sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: SupplierUpdate :one
-- Changes the fields given, only at one of the expected versions when If-Match names some.
UPDATE suppliers
SET code = coalesce(sqlc.narg(code)::text, code),
    name = coalesce(sqlc.narg(name)::text, name),
    email = CASE WHEN @clear_email::boolean THEN NULL ELSE coalesce(sqlc.narg(email)::text, email) END,
    currency = coalesce(sqlc.narg(currency)::text, currency),
    lead_time_days = CASE WHEN @clear_lead_time::boolean THEN NULL
                          ELSE coalesce(sqlc.narg(lead_time_days)::int, lead_time_days) END,
    version = version + 1,
    updated_at = @now
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: SupplierDelete :one
-- Deletes a supplier no purchase order names (no row otherwise: the handler then archives it).
DELETE FROM suppliers s
WHERE s.brand_id = @brand_id AND s.id = @id
  AND NOT EXISTS (SELECT 1 FROM purchase_orders p WHERE p.brand_id = s.brand_id AND p.supplier_id = s.id)
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR s.version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: SupplierArchive :one
UPDATE suppliers
SET archived_at = coalesce(archived_at, @now), version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: PurchaseOrderNumberNext :one
-- Takes the brand's next PO number; the counter row stays locked until the PO's transaction ends,
-- so numbers are gapless (a rolled-back PO gives its number back). Taken last in the creation.
INSERT INTO purchase_order_counters (brand_id, last_number) VALUES (@brand_id, 1001)
ON CONFLICT (brand_id) DO UPDATE SET last_number = purchase_order_counters.last_number + 1
RETURNING last_number;

-- name: PurchaseOrderCreate :one
INSERT INTO purchase_orders (brand_id, id, number, supplier_id, location_id, currency, expected_on, notes,
                             created_by, created_at, updated_at)
VALUES (@brand_id, @id, @number, @supplier_id, @location_id, @currency, sqlc.narg(expected_on), sqlc.narg(notes),
        sqlc.narg(created_by), @now, @now)
RETURNING *;

-- name: PurchaseOrderGet :one
SELECT * FROM purchase_orders WHERE brand_id = @brand_id AND id = @id;

-- name: PurchaseOrderLock :one
-- Locks the PO first (the lock order's first step): its changes and receipts serialize here.
SELECT * FROM purchase_orders WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: PurchaseOrderUpdate :one
-- Changes the header fields given of a locked PO.
UPDATE purchase_orders
SET supplier_id = coalesce(sqlc.narg(supplier_id)::uuid, supplier_id),
    location_id = coalesce(sqlc.narg(location_id)::uuid, location_id),
    currency = coalesce(sqlc.narg(currency)::text, currency),
    expected_on = CASE WHEN @clear_expected_on::boolean THEN NULL
                       ELSE coalesce(sqlc.narg(expected_on)::date, expected_on) END,
    notes = CASE WHEN @clear_notes::boolean THEN NULL ELSE coalesce(sqlc.narg(notes)::text, notes) END,
    version = version + 1,
    updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: PurchaseOrderTransition :one
-- Moves a locked PO to a new status, bumping its version.
UPDATE purchase_orders
SET status = @status, version = version + 1, updated_at = @now,
    ordered_at = CASE WHEN @status = 'ordered'::purchase_order_status THEN @now ELSE ordered_at END,
    ended_at = CASE WHEN @status IN ('received'::purchase_order_status, 'cancelled'::purchase_order_status,
                                     'closed'::purchase_order_status) THEN @now ELSE ended_at END
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: PurchaseOrderList :many
-- Newest first, keyset by id (UUIDv7).
SELECT * FROM purchase_orders
WHERE brand_id = @brand_id
  AND (sqlc.narg(status)::purchase_order_status IS NULL OR status = sqlc.narg(status)::purchase_order_status)
  AND (sqlc.narg(supplier_id)::uuid IS NULL OR supplier_id = sqlc.narg(supplier_id)::uuid)
  AND (sqlc.narg(before_id)::uuid IS NULL OR id < sqlc.narg(before_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: PurchaseOrderLinesAdd :exec
INSERT INTO purchase_order_lines (brand_id, purchase_order_id, id, line_no, product_id, quantity, unit_cost)
SELECT @brand_id::uuid, @purchase_order_id::uuid, unnest(@ids::uuid[]), unnest(@line_nos::int[]),
       unnest(@product_ids::uuid[]), unnest(@quantities::bigint[]), unnest(@unit_costs::bigint[]);

-- name: PurchaseOrderLinesDelete :exec
DELETE FROM purchase_order_lines WHERE brand_id = @brand_id AND purchase_order_id = @purchase_order_id;

-- name: PurchaseOrderLines :many
SELECT pl.*, p.sku FROM purchase_order_lines pl
JOIN products p ON p.brand_id = pl.brand_id AND p.id = pl.product_id
WHERE pl.brand_id = @brand_id AND pl.purchase_order_id = ANY(@purchase_order_ids::uuid[])
ORDER BY pl.purchase_order_id, pl.line_no;

-- name: PurchaseOrderLineReceive :exec
UPDATE purchase_order_lines SET received_quantity = received_quantity + @quantity
WHERE brand_id = @brand_id AND id = @id;

-- name: PurchaseOrderProducts :many
-- The products PO lines name (missing ones are absent), with the currency their cost is kept in.
SELECT id, sku, name, currency, status FROM products WHERE brand_id = @brand_id AND id = ANY(@ids::uuid[]);

-- name: ReorderSuggestions :many
-- Levels at or below their reorder point counting what is on its way (available + incoming), by
-- product and location, keyset; with the product's last supplier and unit cost (its newest line of
-- a PO that was ordered). Expired holds not yet released are not counted as reserved.
SELECT l.product_id, l.location_id, p.sku, p.name AS product_name, l.on_hand,
       (l.reserved - x.quantity)::bigint AS reserved, l.incoming, l.reorder_point::bigint AS reorder_point,
       l.reorder_quantity,
       -- No ordered line yet reads as the nil UUID, -1 and '' (sqlc cannot type a LEFT JOIN
       -- LATERAL's nulls); the handler shows them as nulls.
       coalesce(s.supplier_id, '00000000-0000-0000-0000-000000000000'::uuid)::uuid AS supplier_id,
       coalesce(s.unit_cost, -1)::bigint AS unit_cost, coalesce(s.currency, '')::text AS currency
FROM stock_levels l
JOIN products p ON p.brand_id = l.brand_id AND p.id = l.product_id
CROSS JOIN LATERAL (
  SELECT coalesce(sum(e.quantity), 0)::bigint AS quantity FROM level_hold_expiries e
  WHERE e.brand_id = l.brand_id AND e.product_id = l.product_id AND e.location_id = l.location_id
    AND e.expires_at <= @now
) x
LEFT JOIN LATERAL (
  SELECT po.supplier_id, pl.unit_cost, po.currency::text AS currency FROM purchase_order_lines pl
  JOIN purchase_orders po ON po.brand_id = pl.brand_id AND po.id = pl.purchase_order_id
  WHERE pl.brand_id = l.brand_id AND pl.product_id = l.product_id AND po.status <> 'draft' AND po.status <> 'cancelled'
  ORDER BY po.ordered_at DESC, po.id DESC
  LIMIT 1
) s ON true
WHERE l.brand_id = @brand_id
  AND l.reorder_point IS NOT NULL
  AND l.on_hand - (l.reserved - x.quantity) + l.incoming <= l.reorder_point
  AND (sqlc.narg(location_id)::uuid IS NULL OR l.location_id = sqlc.narg(location_id)::uuid)
  AND (sqlc.narg(after_product)::uuid IS NULL
       OR (l.product_id, l.location_id) > (sqlc.narg(after_product)::uuid, sqlc.narg(after_location)::uuid))
ORDER BY l.product_id, l.location_id
LIMIT @row_limit;

-- name: ValuationLines :many
-- What each level's stock on hand is worth now: onHand × the product's average cost, in the
-- product's currency; keyset by (product, location). Levels with nothing on hand are left out.
SELECT l.product_id, l.location_id, p.sku, p.currency::text AS currency, l.on_hand, c.average_cost
FROM stock_levels l
JOIN products p ON p.brand_id = l.brand_id AND p.id = l.product_id
LEFT JOIN product_costs c ON c.brand_id = l.brand_id AND c.product_id = l.product_id
WHERE l.brand_id = @brand_id AND l.on_hand <> 0
  AND (sqlc.narg(location_id)::uuid IS NULL OR l.location_id = sqlc.narg(location_id)::uuid)
  AND (sqlc.narg(after_product)::uuid IS NULL
       OR (l.product_id, l.location_id) > (sqlc.narg(after_product)::uuid, sqlc.narg(after_location)::uuid))
ORDER BY l.product_id, l.location_id
LIMIT @row_limit;

-- name: ValuationTotals :many
-- The totals of ValuationLines over every level, per location and currency (numeric: a sum of
-- 10^12 units at any cost cannot overflow here; the handler refuses a total past int64).
SELECT l.location_id, p.currency::text AS currency,
       coalesce(sum(l.on_hand::numeric * c.average_cost), 0)::text AS value,
       count(*) FILTER (WHERE c.average_cost IS NULL)::bigint AS uncosted
FROM stock_levels l
JOIN products p ON p.brand_id = l.brand_id AND p.id = l.product_id
LEFT JOIN product_costs c ON c.brand_id = l.brand_id AND c.product_id = l.product_id
WHERE l.brand_id = @brand_id AND l.on_hand <> 0
  AND (sqlc.narg(location_id)::uuid IS NULL OR l.location_id = sqlc.narg(location_id)::uuid)
GROUP BY l.location_id, p.currency
ORDER BY l.location_id, p.currency;

-- name: ValuationLinesAsOf :many
-- ValuationLines as of a past time, replayed from the ledger: each level's onHand after its last
-- movement at or before as_of, each product's average cost after its last costed receipt then.
WITH lv AS (
  SELECT DISTINCT ON (m.product_id, m.location_id) m.product_id, m.location_id, m.on_hand_after AS on_hand
  FROM stock_movements m
  WHERE m.brand_id = @brand_id AND m.created_at <= @as_of
    AND (sqlc.narg(location_id)::uuid IS NULL OR m.location_id = sqlc.narg(location_id)::uuid)
  ORDER BY m.product_id, m.location_id, m.id DESC
)
SELECT lv.product_id, lv.location_id, p.sku, p.currency::text AS currency, lv.on_hand, c.average_cost
FROM lv
JOIN products p ON p.brand_id = @brand_id AND p.id = lv.product_id
LEFT JOIN LATERAL (
  SELECT m.average_cost FROM stock_movements m
  WHERE m.brand_id = @brand_id AND m.product_id = lv.product_id AND m.average_cost IS NOT NULL AND m.created_at <= @as_of
  ORDER BY m.id DESC LIMIT 1
) c ON true
WHERE lv.on_hand <> 0
  AND (sqlc.narg(after_product)::uuid IS NULL
       OR (lv.product_id, lv.location_id) > (sqlc.narg(after_product)::uuid, sqlc.narg(after_location)::uuid))
ORDER BY lv.product_id, lv.location_id
LIMIT @row_limit;

-- name: ValuationTotalsAsOf :many
WITH lv AS (
  SELECT DISTINCT ON (m.product_id, m.location_id) m.product_id, m.location_id, m.on_hand_after AS on_hand
  FROM stock_movements m
  WHERE m.brand_id = @brand_id AND m.created_at <= @as_of
    AND (sqlc.narg(location_id)::uuid IS NULL OR m.location_id = sqlc.narg(location_id)::uuid)
  ORDER BY m.product_id, m.location_id, m.id DESC
), cost AS (
  SELECT DISTINCT ON (m.product_id) m.product_id, m.average_cost
  FROM stock_movements m
  WHERE m.brand_id = @brand_id AND m.average_cost IS NOT NULL AND m.created_at <= @as_of
  ORDER BY m.product_id, m.id DESC
)
SELECT lv.location_id, p.currency::text AS currency,
       coalesce(sum(lv.on_hand::numeric * cost.average_cost), 0)::text AS value,
       count(*) FILTER (WHERE cost.average_cost IS NULL)::bigint AS uncosted
FROM lv
JOIN products p ON p.brand_id = @brand_id AND p.id = lv.product_id
LEFT JOIN cost ON cost.product_id = lv.product_id
WHERE lv.on_hand <> 0
GROUP BY lv.location_id, p.currency
ORDER BY lv.location_id, p.currency;

-- name: ValuationChangedSince :one
-- Whether anything of the brand changed since a valuation was computed: any event (every stock
-- movement, cost change and product change writes one, in its own transaction) from a
-- transaction at or above the horizon taken before the valuation's statement. Every transaction
-- below it had ended, so the valuation saw it; one at or above it that has committed since shows
-- here. One probe of events_feed_idx.
SELECT EXISTS (SELECT 1 FROM events WHERE brand_id = @brand_id AND xact_id >= @horizon::bigint) AS changed;
