-- After each run of the order_webhook scenario, once its deliveries arrived: its endpoints go
-- (their deliveries with them), so that no other scenario or limit enqueues webhook work. Answers
-- how many it deleted.
WITH e AS (DELETE FROM webhook_endpoints RETURNING 1)
SELECT count(*)::int FROM e;
