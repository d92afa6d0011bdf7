-- Issue 16 item 8: what a brand's refused answers may hold in idempotency_keys is bounded, so each
-- stored answer records its brand (NULL only for rows stored before this migration, which expire
-- within IDEMPOTENCY_KEY_TTL). The partial index serves the count of a brand's live refusals.
ALTER TABLE idempotency_keys ADD COLUMN brand_id uuid;
CREATE INDEX idempotency_keys_refused_idx ON idempotency_keys (brand_id, expires_at) WHERE status >= 400;
