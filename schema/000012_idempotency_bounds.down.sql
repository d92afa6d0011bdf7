DROP INDEX idempotency_keys_refused_idx;
ALTER TABLE idempotency_keys DROP COLUMN brand_id;
