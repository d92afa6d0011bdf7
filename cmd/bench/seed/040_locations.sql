-- The warehouses: @locations active locations in each brand, location j (from 1) of brand b with
-- id bench_uuid(5, b + (j - 1) * @brands) and code WH-j, so that clients and pgbench scripts name
-- one without a lookup (benchUUID in seed.go). Reservations without a location are allocated
-- among all of them.
INSERT INTO locations (brand_id, id, code, name, active, created_at, updated_at)
SELECT bench_uuid(1, b), bench_uuid(5, b + (j - 1) * @brands::int), 'WH-' || j, 'Bench warehouse ' || j,
       true, now(), now()
FROM generate_series(1, @brands::int) AS b, generate_series(1, @locations::int) AS j;
