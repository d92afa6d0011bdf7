-- name: EventInsert :exec
-- Writes events in the caller's transaction, in the order given: one statement for any number (a
-- bulk upsert of a thousand products writes a thousand events). events is a JSON array of
-- {id, type, aggregateType, aggregateId, aggregateVersion, data}; xact_id and seq come from their
-- defaults.
--
-- The same statement fans the events out to the brand's webhook endpoints (server/webhooks): a
-- delivery per enabled endpoint that takes the event's type, its body the event as the API shows
-- it (event_envelope, schema/000024: built when sent, not copied here), and river's job that
-- sends it. So a delivery and its job exist exactly when the event committed, and an event no
-- endpoint takes costs nothing more. The kit's brand transaction is not a pgx.Tx, so river's
-- InsertTx cannot be used here: the row is the one river writes for a job of kind
-- webhook_delivery on queue webhooks. Its max_attempts is
-- river's bound, not the retry schedule's: the worker ends a delivery after the schedule's last
-- attempt (server/webhooks, lastAttempt), and WEBHOOK_RETRY_SCHEDULE has fewer entries.
-- With EVENTS_NATS_URL set, the pool's connections carry ecompointer.nats_publish = on
-- (server.WithNATSPublish) and the statement also enqueues a nats_publish job per event on queue
-- nats (server/natspush): a setting of the connection, so the flag costs no parameter in every
-- caller of events.Emit and no extra round trip.
--
-- Last, it sends the notification river's InsertTx sends (river v0.51.2: channel
-- <schema>.river_insert, payload {"queue": "<queue>"}; PostgreSQL delivers it at commit, never on
-- rollback), once per queue that got a job: every instance's river producer of that queue fetches
-- at once instead of at its next poll (FetchPollInterval, 1 s). A lost notification costs only
-- that wait: the poll still finds the job.
WITH written AS (
  INSERT INTO events (brand_id, id, type, aggregate_type, aggregate_id, aggregate_version, occurred_at, data)
  SELECT @brand_id::uuid, (x.e ->> 'id')::uuid, x.e ->> 'type', x.e ->> 'aggregateType',
         (x.e ->> 'aggregateId')::uuid, (x.e ->> 'aggregateVersion')::bigint, @occurred_at::timestamptz, x.e -> 'data'
  FROM jsonb_array_elements(@events::jsonb) WITH ORDINALITY AS x(e, n)
  ORDER BY x.n
  RETURNING id, seq, type
),
delivered AS (
  INSERT INTO webhook_deliveries (brand_id, id, endpoint_id, event_id, event_type, payload, created_at, updated_at)
  SELECT @brand_id::uuid, uuid_v7(), ep.id, w.id, w.type, NULL, @occurred_at::timestamptz, @occurred_at::timestamptz
  FROM written w
  JOIN webhook_endpoints ep ON ep.brand_id = @brand_id::uuid AND ep.enabled AND ('*' = ANY(ep.event_types) OR w.type = ANY(ep.event_types))
  ORDER BY w.seq, ep.id
  RETURNING id
),
sends AS (
  INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, scheduled_at)
  SELECT jsonb_build_object('brandId', @brand_id::uuid, 'deliveryId', d.id), 'webhook_delivery', 25, 'webhooks', 'available', 1, now()
  FROM delivered d
  RETURNING queue
),
published AS (
  INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, scheduled_at)
  SELECT jsonb_build_object('brandId', @brand_id::uuid, 'eventId', w.id), 'nats_publish', 25, 'nats', 'available', 1, now()
  FROM written w
  WHERE current_setting('ecompointer.nats_publish', true) = 'on'
  ORDER BY w.seq
  RETURNING queue
)
SELECT pg_notify(concat_ws('.', current_schema(), 'river_insert'), json_build_object('queue', j.queue)::text)
FROM (SELECT queue FROM sends UNION SELECT queue FROM published) AS j;

-- name: EventGet :one
-- One event, and the event as the API shows it.
SELECT id, type, brand_id, event_envelope(id, type, brand_id, occurred_at, aggregate_type, aggregate_id, aggregate_version, data) AS envelope
FROM events WHERE brand_id = @brand_id AND id = @id;

-- name: EventsHorizon :one
-- Every transaction below this id has ended (schema/000015_events.up.sql): the feed's next read,
-- in a later statement, serves rows below it.
SELECT events_horizon()::bigint AS horizon;

-- name: EventList :many
-- The feed, in (xact_id, seq) order after a position, below a horizon EventsHorizon gave in an
-- earlier statement: nothing can appear behind a position once a reader has passed it.
SELECT event_envelope(id, type, brand_id, occurred_at, aggregate_type, aggregate_id, aggregate_version, data) AS envelope, xact_id, seq
FROM events
WHERE brand_id = @brand_id
  AND xact_id < @horizon::bigint
  AND (sqlc.narg(after_xact)::bigint IS NULL
       OR (xact_id, seq) > (sqlc.narg(after_xact)::bigint, sqlc.narg(after_seq)::bigint))
  AND (sqlc.narg(types)::text[] IS NULL OR type = ANY(sqlc.narg(types)::text[]))
  AND (sqlc.narg(aggregate_type)::text IS NULL OR aggregate_type = sqlc.narg(aggregate_type)::text)
  AND (sqlc.narg(aggregate_id)::uuid IS NULL OR aggregate_id = sqlc.narg(aggregate_id)::uuid)
ORDER BY xact_id, seq
LIMIT @row_limit;

-- name: EventPrune :execrows
-- Deletes up to row_limit events that occurred before cutoff, of every brand (the sweeper's scope,
-- SweeperScopeSet, lets it see them). A delivery that still refers to one for its body (payload
-- NULL, schema/000024) gets its copy first, in the same statement: an EVENTS_RETENTION shorter
-- than the delivery history or the retry schedule loses no body. Such a delivery was made with
-- its event (created_at = occurred_at), so the deliveries' created_at index finds them.
WITH doomed AS (
  SELECT e.* FROM events e WHERE e.occurred_at < @cutoff ORDER BY e.occurred_at LIMIT @row_limit
),
kept AS (
  UPDATE webhook_deliveries d
  SET payload = event_envelope(x.id, x.type, x.brand_id, x.occurred_at, x.aggregate_type, x.aggregate_id, x.aggregate_version, x.data)
  FROM doomed x
  WHERE d.payload IS NULL AND d.created_at < @cutoff AND d.brand_id = x.brand_id AND d.event_id = x.id
)
DELETE FROM events WHERE id IN (SELECT id FROM doomed);

-- name: JobQueueDepths :many
-- The jobs not yet finished (waiting, scheduled, retrying or running) of each river queue this
-- file enqueues on, of every instance: the queue depth metric. A queue without one counts 0.
SELECT q.queue::text AS queue, count(j.id) AS depth
FROM unnest(ARRAY['webhooks', 'nats']) AS q(queue)
LEFT JOIN river_job j ON j.queue = q.queue AND j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled')
GROUP BY q.queue
ORDER BY q.queue;
