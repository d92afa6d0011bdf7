-- The transactional outbox: every change worth telling writes one row here in the transaction that
-- makes it, so the event exists exactly when the change committed (issue 19).
--
-- The feed (GET /brands/{brandId}/events) must never skip a row that commits after a reader passed
-- its position. A sequence or a timestamp cannot promise that: they are taken when a row is
-- written, and a writer that took seq 10 may commit after one that took seq 11 was already read.
-- Each row therefore records its writing transaction's id (xact_id, from pg_current_xact_id()),
-- and the feed serves only rows below a horizon under which every transaction has ended, so no
-- row with a smaller xact_id can appear later. The feed's order is (xact_id, seq): stable, and a
-- reader that resumes after a position misses nothing.
--
-- The horizon is not the snapshot's xmin, which counts the transactions of every database of the
-- cluster: a four-minute bulk load in another database held the feed back for four minutes. Only
-- this database's transactions can write this table, so events_horizon() takes the oldest
-- transaction id in progress here (pg_stat_activity, read live from the process array), or the
-- next id to be assigned when there is none. The reader asks for it in one statement and reads
-- the rows in the next: any transaction below the horizon had ended before that statement's
-- snapshot was taken, so all of its rows are visible to it.
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

-- SECURITY DEFINER: pg_stat_activity shows another session's backend_xid only to its own login
-- (or pg_read_all_stats); the server's sessions run under the application role, not as their login.
-- When some session of this database is hidden even so (the server logs in as another login than
-- the one that migrated, and that one is no superuser), the horizon falls back to the snapshot's
-- xmin, which counts every transaction: slower to move, never wrong.
-- backend_xid is 32 bits: it is widened against the next full id (an id in progress is at most
-- 2^31 behind it).
CREATE FUNCTION events_horizon() RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  WITH nx AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS next),
  here AS (
    SELECT a.backend_xid, a.query
    FROM pg_stat_activity a
    WHERE a.datid = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
  ),
  running AS (
    SELECT ((nx.next >> 32) << 32) | here.backend_xid::text::bigint AS full_xid, nx.next
    FROM nx, here
    WHERE here.backend_xid IS NOT NULL
  )
  SELECT least((SELECT next FROM nx),
               (SELECT min(CASE WHEN full_xid > next THEN full_xid - 4294967296 ELSE full_xid END) FROM running),
               CASE WHEN EXISTS (SELECT 1 FROM here WHERE here.query = '<insufficient privilege>')
                    THEN pg_snapshot_xmin(pg_current_snapshot())::text::bigint END);
$$;
