-- The expired_holds scenario's setup (issue 16, item 5): @holds one-unit reservations of product
-- @product at location @location of brand @brand, expired an hour ago and not released (the
-- server runs with its sweeper off), the way a flash sale's carts expire together. Each is a
-- reservation, its allocation and its `reservation` movement, and the level's reserved grows by
-- as much, so the ledger sums and reserved is what unreleased reservations hold. Answers how
-- many it made.
WITH r AS (
  INSERT INTO reservations (brand_id, id, status, reference, expires_at, created_at, updated_at)
  SELECT @brand::uuid, gen_random_uuid(), 'active', 'BENCH-EXPIRED', now() - interval '1 hour',
         now() - interval '2 hours', now() - interval '2 hours'
  FROM generate_series(1, @holds::int)
  RETURNING id
), a AS (
  INSERT INTO reservation_allocations (brand_id, reservation_id, line_no, product_id, location_id, quantity, expires_at)
  SELECT @brand::uuid, r.id, 0, @product::uuid, @location::uuid, 1, now() - interval '1 hour' FROM r
  RETURNING reservation_id
), l AS (
  UPDATE stock_levels SET reserved = reserved + @holds::int, version = version + 1, updated_at = now()
  WHERE brand_id = @brand::uuid AND product_id = @product::uuid AND location_id = @location::uuid
  RETURNING on_hand, reserved
), m AS (
  INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
                               on_hand_after, reserved_after, reference, reservation_id, created_at)
  SELECT @brand::uuid, gen_random_uuid(), @product::uuid, @location::uuid, 'reservation', 0, 1,
         l.on_hand, l.reserved - @holds::int + row_number() OVER (ORDER BY a.reservation_id), 'BENCH-EXPIRED',
         a.reservation_id, now() - interval '2 hours'
  FROM a, l
  RETURNING 1
)
SELECT count(*)::int FROM m;
