-- The brands every seeded user belongs to.
INSERT INTO brands (id, name, slug, currency, created_at, updated_at)
SELECT bench_uuid(1, b), 'Bench brand ' || b, 'bench-brand-' || b, 'USD', now(), now()
FROM generate_series(1, @brands::int) AS b;
