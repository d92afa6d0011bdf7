-- Every row that can be deleted has its referencing rows found by an index: a DELETE checks (or
-- cascades to) each referencing table once per deleted row, and without an index that is a scan
-- of the whole table each time (schema/indexed_test.go now requires one, led by the key's own
-- columns). A product's delete scanned every order line: the bench's reset of 75,000 products
-- ran for minutes. The deliveries' attempts had an index led by delivery_id alone: now by brand,
-- as every brand-scoped key (TestSchemaIsDistributable).
CREATE INDEX order_lines_product_idx ON order_lines (brand_id, product_id);
DROP INDEX webhook_attempts_delivery_idx;
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (brand_id, delivery_id, id);
