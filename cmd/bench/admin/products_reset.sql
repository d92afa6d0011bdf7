-- Before every run, ahead of vacuum.sql: the products a create run added (POST
-- /brands/{brandId}/products, or its pgbench limit) are deleted, so that every run reads the
-- seeded catalog. Left in place they would be the newest products, the first page and the searches
-- of the later runs would read them first, and they grow with the create rate. The seeded ids are
-- of kind 3 (seed/030_products.sql); all the others sort after them (the server makes UUIDv7s,
-- pgbench ids of kind 4), so each brand's are one range of the primary key.
DELETE FROM products
WHERE brand_id IN (SELECT id FROM brands)
  AND id > bench_uuid(3, 281474976710655)
