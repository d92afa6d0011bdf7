-- The stock invariants, per level of a brand. Run inside the brand's scope (row-level security).

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

-- name: HoldMismatches :many
-- Levels whose reserved is not what their holds add up to: the allocations of live reservations
-- (active ones, expired ones included until the sweeper releases them) plus what orders still hold
-- (allocated, not shipped, the order not cancelled); or whose level_hold_expiries rows (schema
-- 000011) do not add up to those live reservation allocations. Always empty (tests and the cluster
-- proof assert it, beside LedgerMismatches).
SELECT l.product_id, l.location_id, l.reserved,
       (r.quantity + h.quantity)::bigint AS held,
       r.quantity AS reservation_held, h.quantity AS order_held, e.quantity AS expiries
FROM stock_levels l
CROSS JOIN LATERAL (
  SELECT coalesce(sum(a.quantity), 0)::bigint AS quantity FROM reservation_allocations a
  WHERE a.brand_id = l.brand_id AND a.product_id = l.product_id AND a.location_id = l.location_id AND a.live
) r
CROSS JOIN LATERAL (
  SELECT coalesce(sum(a.quantity - a.fulfilled_quantity), 0)::bigint AS quantity FROM order_allocations a
  JOIN orders o ON o.brand_id = a.brand_id AND o.id = a.order_id
  WHERE a.brand_id = l.brand_id AND a.product_id = l.product_id AND a.location_id = l.location_id
    AND o.status <> 'cancelled'
) h
CROSS JOIN LATERAL (
  SELECT coalesce(sum(x.quantity), 0)::bigint AS quantity FROM level_hold_expiries x
  WHERE x.brand_id = l.brand_id AND x.product_id = l.product_id AND x.location_id = l.location_id
) e
WHERE l.brand_id = @brand_id
  AND (l.reserved <> r.quantity + h.quantity OR e.quantity <> r.quantity)
ORDER BY l.product_id, l.location_id;

-- name: IncomingMismatches :many
-- Levels whose incoming is not what open purchase orders (ordered or partially received) still
-- bring there: the sum of their lines' unreceived quantities (never below zero). Always empty.
SELECT l.product_id, l.location_id, l.incoming, x.quantity AS expected
FROM stock_levels l
CROSS JOIN LATERAL (
  SELECT coalesce(sum(greatest(pl.quantity - pl.received_quantity, 0)), 0)::bigint AS quantity
  FROM purchase_order_lines pl
  JOIN purchase_orders po ON po.brand_id = pl.brand_id AND po.id = pl.purchase_order_id
  WHERE pl.brand_id = l.brand_id AND pl.product_id = l.product_id AND po.location_id = l.location_id
    AND po.status IN ('ordered', 'partially_received')
) x
WHERE l.brand_id = @brand_id AND l.incoming <> x.quantity
ORDER BY l.product_id, l.location_id;
