-- Webhook fan-out in the event's own statement (queries/events.sql, EventInsert): the deliveries
-- of an event and their jobs are written with it, instead of a fan-out job per event that looked
-- up the subscribed endpoints later. An order wrote four to six events and so four to six
-- fan-out jobs, each a transaction of its own, although its brand's endpoint took one of them:
-- delivery fell behind the order rate (issue 19). Both need the event as the API shows it, and a
-- time-ordered id, in SQL.
--
-- Such a delivery keeps no copy of its body: payload is NULL, and the body is the event's
-- envelope, built when the delivery is sent (queries/webhooks.sql, WebhookDeliveryForWork).
-- An event is never changed, so every attempt and a manual retry still send the same bytes; the
-- copy cost each delivery its envelope built and compressed (an order's is about 3 KB) and the
-- row's space. Before an event is pruned, the deliveries still referring to it get their copy
-- (queries/events.sql, EventPrune). Pings, which are no event, and the deliveries made before
-- keep theirs.

-- The event as the API shows it: the feed (EventGet, EventList), the webhook body and the NATS
-- message are this one value, so they cannot drift apart. occurredAt is UTC with microseconds.
CREATE FUNCTION event_envelope(id uuid, type text, brand_id uuid, occurred_at timestamptz,
                               aggregate_type text, aggregate_id uuid, aggregate_version bigint, data jsonb)
RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
  SELECT jsonb_build_object(
    'id', id, 'type', type, 'brandId', brand_id,
    'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'aggregate', jsonb_build_object('type', aggregate_type, 'id', aggregate_id, 'version', aggregate_version),
    'data', data)
$$;

-- A UUID version 7 (RFC 9562): the current Unix time in milliseconds, then random bits, as the
-- server's uuid.NewV7 makes them, so rows made in SQL sort by time among those made in Go
-- (deliveries are listed newest first by id).
CREATE FUNCTION uuid_v7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;

ALTER TABLE webhook_deliveries ALTER COLUMN payload DROP NOT NULL;
COMMENT ON COLUMN webhook_deliveries.payload IS
  'The body sent; NULL: the envelope of the event (event_envelope), built at each attempt.';
-- The events sweeper gives those deliveries their copy, across brands, before it prunes their
-- event (queries/events.sql, EventPrune).
CREATE POLICY sweeper_keep_body ON webhook_deliveries FOR UPDATE
  USING (current_setting('app.sweeper', true) = 'on')
  WITH CHECK (current_setting('app.sweeper', true) = 'on');
