-- The transactional outbox: every change worth telling writes one row here in the transaction that
-- makes it, so the event exists exactly when the change committed (issue 19).
--
-- The feed (GET /brands/{brandId}/events) must never skip a row that commits after a reader passed
-- its position. A sequence or a timestamp cannot promise that: they are taken when a row is
-- written, and a writer that took seq 10 may commit after one that took seq 11 was already read.
-- Each row therefore records its writing transaction's id (xact_id, from pg_current_xact_id()),
-- and the feed serves only rows whose transaction is older than the reader's snapshot xmin: every
-- such transaction has ended, so no row with a smaller xact_id can appear later. The feed's order
-- is (xact_id, seq): stable, and a reader that resumes after a position misses nothing.
CREATE TABLE events (
  brand_id          uuid NOT NULL REFERENCES brands (id),
  id                uuid NOT NULL PRIMARY KEY,
  seq               bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
  -- xid8 as a bigint (it is a 64-bit epoch-qualified id): comparable with the snapshot's xmin the
  -- same way, and a plain integer for the generated code and the cursor.
  xact_id           bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
  type              text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
  aggregate_type    text NOT NULL,
  aggregate_id      uuid NOT NULL,
  aggregate_version bigint NOT NULL,
  occurred_at       timestamptz NOT NULL,
  data              jsonb NOT NULL
);
-- The feed: one brand's rows in feed order (the type and aggregate filters are applied on the way).
CREATE INDEX events_feed_idx ON events (brand_id, xact_id, seq);
-- One aggregate's history.
CREATE INDEX events_aggregate_idx ON events (brand_id, aggregate_id, xact_id, seq);
-- The retention sweeper's work list.
CREATE INDEX events_occurred_idx ON events (occurred_at);

ALTER TABLE events ENABLE ROW LEVEL SECURITY;
ALTER TABLE events FORCE ROW LEVEL SECURITY;
CREATE POLICY brand_isolation ON events
  USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
  WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid));
-- The retention sweeper runs outside any brand: when it says it is the sweeper it may see and
-- delete the events past retention, of every brand.
CREATE POLICY sweeper_prune ON events FOR SELECT
  USING (current_setting('app.sweeper', true) = 'on');
CREATE POLICY sweeper_prune_delete ON events FOR DELETE
  USING (current_setting('app.sweeper', true) = 'on');
