-- The stock: the hot product (0) has @hot_stock units at the first location only, fewer than the
-- most connections, so that reserve_hot at 256 connections runs out and some reservations are
-- rightly refused (the oversell check then means something); every other stock product has
-- @stock_on_hand units at every location, more than any run can hold or receive.
INSERT INTO stock_levels (brand_id, product_id, location_id, on_hand, reserved, updated_at)
SELECT bench_uuid(1, s.b), s.product_id, bench_uuid(5, s.b + (j - 1) * @brands::int),
       CASE WHEN s.i = 0 THEN @hot_stock::bigint ELSE @stock_on_hand::bigint END, 0, now()
FROM bench_stock_products s, generate_series(1, @locations::int) AS j
WHERE s.i > 0 OR j = 1;
