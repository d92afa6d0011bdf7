ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_fkey,
  DROP CONSTRAINT webhook_deliveries_endpoint_event_key;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, ADD PRIMARY KEY (id);
CREATE INDEX webhook_endpoints_brand_idx ON webhook_endpoints (brand_id, id);
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (id);
ALTER TABLE webhook_deliveries
  ADD CONSTRAINT webhook_deliveries_endpoint_id_event_id_key UNIQUE (endpoint_id, event_id),
  ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES webhook_endpoints (id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts
  ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES webhook_deliveries (id) ON DELETE CASCADE;

DROP FUNCTION IF EXISTS product_search_ensure(text);
-- Dropping the view needs membership of its owner, the search role (held only while needed).
DO $$
DECLARE owner name := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('product_search'));
BEGIN
  IF owner IS NOT NULL AND NOT pg_has_role(current_user, owner, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', owner, current_user);
  END IF;
END
$$;
DROP VIEW IF EXISTS product_search;
DROP POLICY IF EXISTS product_search_reads ON products;
