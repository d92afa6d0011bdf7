DROP POLICY sweeper_keep_body ON webhook_deliveries;
UPDATE webhook_deliveries d
SET payload = event_envelope(e.id, e.type, e.brand_id, e.occurred_at, e.aggregate_type, e.aggregate_id, e.aggregate_version, e.data)
FROM events e
WHERE d.payload IS NULL AND e.brand_id = d.brand_id AND e.id = d.event_id;
DELETE FROM webhook_deliveries WHERE payload IS NULL;
COMMENT ON COLUMN webhook_deliveries.payload IS NULL;
ALTER TABLE webhook_deliveries ALTER COLUMN payload SET NOT NULL;
DROP FUNCTION uuid_v7();
DROP FUNCTION event_envelope(uuid, text, uuid, timestamptz, text, uuid, bigint, jsonb);
