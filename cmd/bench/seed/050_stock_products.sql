-- The products the inventory scenarios move, numbered per brand from 0: only active products can
-- be reserved, and the seeded statuses are drawn at random, so the first 1 + @stock_products
-- active ones of each brand (in id order) are picked once here. Product 0 is the hot row of the
-- reserve_hot scenario; 1..@stock_products are the ones reserve_spread and receipt draw from.
-- pgbench scripts read ids here, as they read sessions from bench_sessions.
CREATE TABLE bench_stock_products AS
SELECT b, (r - 1)::int AS i, id AS product_id
FROM (SELECT b.n AS b, p.id, row_number() OVER (PARTITION BY b.n ORDER BY p.id) AS r
      FROM generate_series(1, @brands::int) AS b(n)
      JOIN products p ON p.brand_id = bench_uuid(1, b.n) AND p.status = 'active') AS active
WHERE r <= 1 + @stock_products::int;
