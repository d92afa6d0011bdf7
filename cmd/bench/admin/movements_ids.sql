-- The reservation and the order of brand 1 that admin/movements_seed.sql names in its ledger.
SELECT (SELECT id::text FROM reservations WHERE brand_id = bench_uuid(1, 1) ORDER BY id LIMIT 1),
       (SELECT id::text FROM orders WHERE brand_id = bench_uuid(1, 1) ORDER BY id LIMIT 1);
