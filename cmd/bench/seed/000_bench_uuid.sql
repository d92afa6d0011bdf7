-- Seeded rows get ids computed from their kind and number, so that later seed files and the
-- pgbench scripts can name row n without a lookup: bench_uuid(1, 2) is brand 2, bench_uuid(2, 17)
-- user 17 (kinds: 1 brands, 2 users, 3 products, 4 the products pgbench creates, 5 locations,
-- 6 the seeded stock movements, 7 the reservations pgbench makes; orders take the next ones).
-- Only the bench database has this function, and it is dropped with it. benchUUID in seed.go
-- computes the same ids.
CREATE FUNCTION bench_uuid(kind int, n bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ('00000000-0000-7000-8' || lpad(to_hex(kind), 3, '0') || '-' || lpad(to_hex(n), 12, '0'))::uuid;
