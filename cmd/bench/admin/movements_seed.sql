-- The movements scenarios' ledger (issue 16, item 7): @movements more movements in brand @brand,
-- over its stock levels, the way a busy brand's ledger looks: mostly holds, releases and
-- fulfilments, a count one in 200; spread evenly over its levels; a reference one
-- in ten, a reservation or an order one in fifty each; spread over the last 400 days. Movements
-- come in pairs at one level, each of a kind and sign its rule allows (stock_movements_sign), that
-- cancel out: a hold and its release, a receipt and a transfer out, +1 and -1 adjustments or
-- counts. A fulfilment (-1 on hand, -1 reserved) pairs with a hold (+1 reserved), so each level
-- also gets one opening receipt, dated before them all, of what its fulfilments shipped: the
-- ledger still sums to the levels. Ids are
-- random: they sort among the server's own, as an old ledger's would not, which only makes the
-- newest page harder to find. Answers how many it made.
WITH lv AS (
  SELECT array_agg(product_id ORDER BY location_id, product_id) AS p,
         array_agg(location_id ORDER BY location_id, product_id) AS l, count(*) AS total
  FROM stock_levels WHERE brand_id = @brand::uuid
), res AS (
  SELECT id FROM reservations WHERE brand_id = @brand::uuid ORDER BY id LIMIT 1
), ord AS (
  SELECT id FROM orders WHERE brand_id = @brand::uuid ORDER BY id LIMIT 1
), m AS (
  INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
                               on_hand_after, reserved_after, reference, reservation_id, order_id, created_at)
  SELECT @brand::uuid, gen_random_uuid(), lv.p[1 + (x.pair * 104729) % lv.total], lv.l[1 + (x.pair * 104729) % lv.total],
         d.kind::movement_kind, d.on_hand, d.reserved, 0, 0,
         CASE WHEN pair % 10 = 0 THEN 'BENCH-REF-' || (pair % 5000) END,
         CASE WHEN pair % 50 = 1 THEN (SELECT id FROM res) END,
         CASE WHEN pair % 50 = 2 THEN (SELECT id FROM ord) END,
         now() - interval '400 days' + make_interval(secs => pair * (400 * 86400 / (@movements::bigint / 2)))
  FROM generate_series(0, @movements::bigint - 1) AS i,
       LATERAL (SELECT i / 2 AS pair, (i / 2 * 7919) % 200 AS k) AS x,
       LATERAL (SELECT CASE WHEN x.k < 70 THEN 'reservation' WHEN x.k < 130 THEN 'release' WHEN x.k < 180 THEN 'fulfilment'
                            WHEN x.k < 190 THEN 'receipt' WHEN x.k < 194 THEN 'adjustment' WHEN x.k < 196 THEN 'transfer_out'
                            WHEN x.k < 198 THEN 'transfer_in' WHEN x.k < 199 THEN 'return' ELSE 'count' END AS first) AS f,
       -- (kind, on hand, reserved) of the pair's first movement (even i) and of the one that cancels it
       LATERAL (SELECT * FROM (VALUES
                  ('reservation', 0, 1, 'release', 0, -1),
                  ('release', 0, -1, 'reservation', 0, 1),
                  ('fulfilment', -1, -1, 'reservation', 0, 1),
                  ('receipt', 1, 0, 'transfer_out', -1, 0),
                  ('adjustment', 1, 0, 'adjustment', -1, 0),
                  ('transfer_out', -1, 0, 'transfer_in', 1, 0),
                  ('transfer_in', 1, 0, 'transfer_out', -1, 0),
                  ('return', 1, 0, 'adjustment', -1, 0),
                  ('count', 1, 0, 'count', -1, 0)) AS r(a, a_on_hand, a_reserved, b, b_on_hand, b_reserved)
                WHERE r.a = f.first) AS r,
       LATERAL (SELECT CASE WHEN i % 2 = 0 THEN r.a ELSE r.b END AS kind,
                       CASE WHEN i % 2 = 0 THEN r.a_on_hand ELSE r.b_on_hand END AS on_hand,
                       CASE WHEN i % 2 = 0 THEN r.a_reserved ELSE r.b_reserved END AS reserved) AS d,
       lv
  RETURNING product_id, location_id, on_hand_delta
), shipped AS (
  SELECT product_id, location_id, -sum(on_hand_delta) AS units FROM m
  GROUP BY product_id, location_id HAVING sum(on_hand_delta) < 0
), opening AS (
  INSERT INTO stock_movements (brand_id, id, product_id, location_id, kind, on_hand_delta, reserved_delta,
                               on_hand_after, reserved_after, reference, created_at)
  SELECT @brand::uuid, gen_random_uuid(), product_id, location_id, 'receipt', units, 0, 0, 0,
         'BENCH-OPENING', now() - interval '401 days'
  FROM shipped
  RETURNING 1
)
SELECT count(*)::int FROM m;
