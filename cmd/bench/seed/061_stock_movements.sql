-- The ledger of that stock: one receipt per level, so that the movements sum to the levels from
-- the start (the harness checks it after every run). Ids of kind 6 sort before every id the
-- server makes (UUIDv7): the seeded receipts are the oldest movements.
INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
                             on_hand_after, reserved_after, reference, created_at)
SELECT brand_id, bench_uuid(6, row_number() OVER (ORDER BY brand_id, product_id, location_id)),
       product_id, location_id, 'receipt', on_hand, 0, on_hand, 0, 'BENCH-SEED', now()
FROM stock_levels;
