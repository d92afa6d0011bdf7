-- After every run of an inventory or order scenario (once the reservations it left are released):
-- how many levels there are, how many are oversold (reserved below 0 or above on_hand: the CHECK
-- constraint refuses it, this proves it), and how many hold other than what live reservations and
-- open orders hold (an order holds, at each of its allocations, what it has not shipped yet, until
-- it is cancelled). The ledger is checked per brand with queries/inventory.sql LedgerMismatches,
-- the tests' own query.
SELECT (SELECT count(*) FROM stock_levels)::int AS levels,
       (SELECT count(*) FROM stock_levels WHERE reserved < 0 OR reserved > on_hand)::int AS oversold,
       (SELECT count(*)
        FROM stock_levels l
        LEFT JOIN (SELECT brand_id, product_id, location_id, sum(held) AS held
                   FROM (SELECT a.brand_id, a.product_id, a.location_id, a.quantity AS held
                         FROM reservation_allocations a
                         JOIN reservations r ON r.brand_id = a.brand_id AND r.id = a.reservation_id
                         WHERE r.status = 'active'
                         UNION ALL
                         SELECT a.brand_id, a.product_id, a.location_id, a.quantity - a.fulfilled_quantity
                         FROM order_allocations a
                         JOIN orders o ON o.brand_id = a.brand_id AND o.id = a.order_id
                         WHERE o.status IN ('pending', 'confirmed', 'partially_fulfilled')) AS holds
                   GROUP BY brand_id, product_id, location_id) h
          ON h.brand_id = l.brand_id AND h.product_id = l.product_id AND h.location_id = l.location_id
        WHERE l.reserved <> coalesce(h.held, 0))::int AS misheld
