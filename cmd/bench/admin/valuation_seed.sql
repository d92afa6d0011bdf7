-- The valuation scenario's stock (issue 22): every product of brand @brand (100,000 in a full run)
-- gets a level at the brand's first two locations (WH-1, WH-2) with 1 to 100 units on hand, and
-- every product a moving average cost; each new level's stock arrives by one `receipt` movement
-- carrying that cost, dated a day ago, so the ledger still sums to the levels and a valuation asOf
-- finds it. Products the stock seed stocked keep their levels as they are (valued at the new
-- costs). Answers how many levels it made.
WITH loc AS (
  SELECT id FROM locations WHERE brand_id = @brand::uuid ORDER BY code LIMIT 2
), lv AS (
  INSERT INTO stock_levels (brand_id, product_id, location_id, on_hand, updated_at)
  SELECT @brand::uuid, p.id, loc.id, 1 + abs(hashtext(p.id::text || loc.id::text)) % 100, now()
  FROM products p CROSS JOIN loc
  WHERE p.brand_id = @brand::uuid
    -- A product the stock seed stocked keeps exactly its levels: the order scenarios and their
    -- pgbench scripts lock a stocked product's levels expecting the ones that seed made.
    AND NOT EXISTS (SELECT 1 FROM stock_levels s WHERE s.brand_id = p.brand_id AND s.product_id = p.id)
  ORDER BY p.id, loc.id
  ON CONFLICT DO NOTHING
  RETURNING product_id, location_id, on_hand
), c AS (
  INSERT INTO product_costs (brand_id, product_id, average_cost, updated_at)
  SELECT @brand::uuid, p.id, 100 + abs(hashtext(p.id::text)) % 10000, now()
  FROM products p WHERE p.brand_id = @brand::uuid
  ON CONFLICT DO NOTHING
  RETURNING product_id, average_cost
), m AS (
  INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
                               on_hand_after, reserved_after, reference, created_at, unit_cost, average_cost)
  SELECT @brand::uuid, gen_random_uuid(), lv.product_id, lv.location_id, 'receipt', lv.on_hand, 0,
         lv.on_hand, 0, 'BENCH-VALUATION', now() - interval '1 day', c.average_cost, c.average_cost
  FROM lv LEFT JOIN c USING (product_id)
  RETURNING 1
)
SELECT count(*)::int FROM m;
