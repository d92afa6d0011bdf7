-- name: WebhookEndpointCreate :one
INSERT INTO webhook_endpoints (brand_id, id, url, event_types, description, enabled, secret, created_at, updated_at)
VALUES (@brand_id, @id, @url, @event_types, @description, @enabled, @secret, @now, @now)
RETURNING *;

-- name: WebhookEndpointGet :one
SELECT * FROM webhook_endpoints WHERE brand_id = @brand_id AND id = @id;

-- name: WebhookEndpointList :many
SELECT * FROM webhook_endpoints
WHERE brand_id = @brand_id AND (sqlc.narg(after_id)::uuid IS NULL OR id > sqlc.narg(after_id)::uuid)
ORDER BY id
LIMIT @row_limit;

-- name: WebhookEndpointUpdate :one
-- Changes the fields given when the version is one of expected_versions (none: any). Enabling an
-- endpoint again forgets its failure streak.
UPDATE webhook_endpoints SET
  url = coalesce(sqlc.narg(url), url),
  event_types = coalesce(sqlc.narg(event_types)::text[], event_types),
  description = CASE WHEN @clear_description::boolean THEN NULL ELSE coalesce(sqlc.narg(description), description) END,
  enabled = coalesce(sqlc.narg(enabled), enabled),
  failing_since = CASE WHEN sqlc.narg(enabled)::boolean THEN NULL ELSE failing_since END,
  disabled_reason = CASE WHEN sqlc.narg(enabled)::boolean THEN NULL ELSE disabled_reason END,
  version = version + 1,
  updated_at = @now
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: WebhookEndpointDelete :execrows
DELETE FROM webhook_endpoints
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]));

-- name: WebhookEndpointRotate :one
-- The new secret signs from now on; the current one keeps signing beside it until previous_until.
UPDATE webhook_endpoints SET
  previous_secret = secret, previous_secret_until = @previous_until, secret = @secret,
  version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: WebhookEndpointsSubscribed :many
-- The brand's enabled endpoints that take events of type typ.
SELECT * FROM webhook_endpoints
WHERE brand_id = @brand_id AND enabled AND ('*' = ANY(event_types) OR @type::text = ANY(event_types))
ORDER BY id;

-- name: WebhookEndpointFailed :one
-- Starts (or continues) the endpoint's failure streak and answers when it started.
UPDATE webhook_endpoints SET failing_since = coalesce(failing_since, @now::timestamptz)
WHERE brand_id = @brand_id AND id = @id
RETURNING failing_since::timestamptz AS failing_since, enabled;

-- name: WebhookEndpointDisable :one
UPDATE webhook_endpoints SET enabled = false, disabled_reason = @reason, version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id AND enabled
RETURNING *;

-- name: WebhookDeliveryCreate :one
-- One delivery of an event to an endpoint; a second fan-out of the same event makes none (no row).
INSERT INTO webhook_deliveries (brand_id, id, endpoint_id, event_id, event_type, payload, created_at, updated_at)
VALUES (@brand_id, @id, @endpoint_id, @event_id, @event_type, @payload, @now, @now)
ON CONFLICT (brand_id, endpoint_id, event_id) DO NOTHING
RETURNING *;

-- name: WebhookDeliveryGet :one
SELECT * FROM webhook_deliveries WHERE brand_id = @brand_id AND endpoint_id = @endpoint_id AND id = @id;

-- name: WebhookDeliveryForWork :one
-- A delivery, its endpoint, and the body to send: its own copy, or its event's envelope
-- (schema/000024). NULL body: neither (not made by this schema's statements).
SELECT sqlc.embed(d), sqlc.embed(e),
       coalesce(d.payload, CASE WHEN ev.id IS NOT NULL THEN
         event_envelope(ev.id, ev.type, ev.brand_id, ev.occurred_at, ev.aggregate_type, ev.aggregate_id, ev.aggregate_version, ev.data) END) AS body
FROM webhook_deliveries d
JOIN webhook_endpoints e ON e.id = d.endpoint_id
LEFT JOIN events ev ON d.payload IS NULL AND ev.id = d.event_id AND ev.brand_id = d.brand_id
WHERE d.brand_id = @brand_id AND d.id = @id;

-- name: WebhookDeliveryList :many
-- Newest first.
SELECT * FROM webhook_deliveries
WHERE brand_id = @brand_id AND endpoint_id = @endpoint_id
  AND (sqlc.narg(after_id)::uuid IS NULL OR id < sqlc.narg(after_id)::uuid)
ORDER BY id DESC
LIMIT @row_limit;

-- name: WebhookAttemptsOf :many
SELECT * FROM webhook_attempts WHERE brand_id = @brand_id AND delivery_id = ANY(@delivery_ids::uuid[])
ORDER BY delivery_id, id;

-- name: WebhookAttemptRecord :exec
-- Records one attempt and the delivery's state after it; a success also ends the endpoint's
-- failure streak (WebhookEndpointFailed starts it), in the same statement.
WITH a AS (
  INSERT INTO webhook_attempts (brand_id, delivery_id, attempted_at, duration_ms, response_status, response_body, error, succeeded)
  VALUES (@brand_id, @delivery_id, @attempted_at, @duration_ms, sqlc.narg(response_status), @response_body, sqlc.narg(error), @succeeded)
),
streak AS (
  UPDATE webhook_endpoints SET failing_since = NULL
  WHERE @succeeded AND webhook_endpoints.brand_id = @brand_id AND webhook_endpoints.id = @endpoint_id AND webhook_endpoints.failing_since IS NOT NULL
)
UPDATE webhook_deliveries SET status = @status, attempts = attempts + 1, updated_at = @attempted_at
WHERE webhook_deliveries.brand_id = @brand_id AND webhook_deliveries.id = @delivery_id;

-- name: WebhookDeliveryReopen :one
-- A manual retry: the delivery is pending again.
UPDATE webhook_deliveries SET status = 'pending', updated_at = @now
WHERE brand_id = @brand_id AND endpoint_id = @endpoint_id AND id = @id
RETURNING *;

-- name: WebhookDeliveryPrune :execrows
-- Deletes up to row_limit deliveries (and their attempts) created before cutoff, of every brand
-- (the sweeper's scope).
DELETE FROM webhook_deliveries
WHERE id IN (SELECT d.id FROM webhook_deliveries d WHERE d.created_at < @cutoff ORDER BY d.created_at LIMIT @row_limit);

-- name: WebhookDeliveryEnqueue :exec
-- Enqueues river's job that sends one delivery, in the caller's transaction (the fan-out, a ping,
-- a manual retry), as queries/events.sql's EventInsert enqueues the fan-out. max_attempts is the
-- first attempt and the retries.
-- With river's insert notification when it enqueued any, as queries/events.sql's EventInsert.
WITH enqueued AS (
  INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, scheduled_at)
  SELECT jsonb_build_object('brandId', @brand_id::uuid, 'deliveryId', d.id), 'webhook_delivery', @max_attempts::smallint, 'webhooks', 'available', 1, now()
  FROM unnest(@delivery_ids::uuid[]) AS d(id)
  RETURNING queue
)
SELECT pg_notify(concat_ws('.', current_schema(), 'river_insert'), json_build_object('queue', j.queue)::text)
FROM (SELECT DISTINCT queue FROM enqueued) AS j;

-- name: WebhookDeliveryFinish :exec
-- Ends a delivery without an attempt (its endpoint was disabled meanwhile, or it has no body).
UPDATE webhook_deliveries SET status = @status, updated_at = @now
WHERE brand_id = @brand_id AND id = @id;
