-- The movements scenarios' ledger (issue 16, item 7): @movements more movements in brand @brand,
-- over its stock levels, the way a busy brand's ledger looks: mostly holds, releases and
-- fulfilments, a count one in 200; spread evenly over its levels; a reference one
-- in ten, a reservation or an order one in fifty each; spread over the last 400 days. Movements
-- come in pairs of +1 and -1 at one level, so the ledger still sums to the levels. Ids are
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
         (CASE WHEN k < 70 THEN 'reservation' WHEN k < 130 THEN 'release' WHEN k < 180 THEN 'fulfilment'
               WHEN k < 190 THEN 'receipt' WHEN k < 194 THEN 'adjustment' WHEN k < 196 THEN 'transfer_out'
               WHEN k < 198 THEN 'transfer_in' WHEN k < 199 THEN 'return' ELSE 'count' END)::movement_kind,
         CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END, 0, 0, 0,
         CASE WHEN pair % 10 = 0 THEN 'BENCH-REF-' || (pair % 5000) END,
         CASE WHEN pair % 50 = 1 THEN (SELECT id FROM res) END,
         CASE WHEN pair % 50 = 2 THEN (SELECT id FROM ord) END,
         now() - interval '400 days' + make_interval(secs => pair * (400 * 86400 / (@movements::bigint / 2)))
  FROM generate_series(0, @movements::bigint - 1) AS i,
       LATERAL (SELECT i / 2 AS pair, (i / 2 * 7919) % 200 AS k) AS x,
       lv
  RETURNING 1
)
SELECT count(*)::int FROM m;
