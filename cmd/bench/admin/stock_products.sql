-- The products the inventory scenarios move, per brand, numbered from 0 (seed/050_stock_products.sql).
SELECT b, i, product_id::text FROM bench_stock_products ORDER BY b, i
