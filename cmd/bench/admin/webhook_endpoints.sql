-- The order_webhook scenario's setup (issue 19): one enabled endpoint per brand, subscribed to
-- order.created, at the harness's loopback receiver @url (the servers run with
-- WEBHOOK_ALLOWED_NETWORKS=127.0.0.0/8 and WEBHOOK_ALLOW_HTTP=true). The secret is Standard
-- Webhooks' example one: the receiver times deliveries, it does not verify them. Answers how many
-- it made.
WITH e AS (
  INSERT INTO webhook_endpoints (brand_id, id, url, event_types, description, secret, created_at, updated_at)
  SELECT b.id, gen_random_uuid(), @url::text, ARRAY['order.created'], 'bench receiver',
         'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', now(), now()
  FROM brands b
  RETURNING 1
)
SELECT count(*)::int FROM e;
