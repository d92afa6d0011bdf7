-- The users, spread over the brands as their owners (the role that may do everything in a brand,
-- so every brand-scoped scenario can use any session). They all share one password, whose hash
-- the harness computed once: hashing 10,000 passwords would take the seed longer than the run.
INSERT INTO users (id, email, name, password_hash, role, brand_id, created_at, updated_at)
SELECT bench_uuid(2, n), 'bench-' || n || '@example.com', 'Bench user ' || n, @password_hash::text,
       'BRAND_OWNER', bench_uuid(1, 1 + (n - 1) % @brands::int), now(), now()
FROM generate_series(1, @users::int) AS n;
