-- CSV imports (issue 20): the file as uploaded (in chunks, so that neither the upload nor the job
-- ever holds it whole in memory), the import's progress, and its per-row errors. The job that
-- works an import is river's (queries/imports.sql enqueues it in the upload's transaction).
CREATE TABLE imports (
  brand_id        uuid NOT NULL REFERENCES brands (id),
  id              uuid NOT NULL,
  kind            text NOT NULL CHECK (kind IN ('products', 'stock')),
  mode            text NOT NULL CHECK (mode IN ('all', 'partial')),
  dry_run         boolean NOT NULL,
  status          text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  file_bytes      bigint NOT NULL,
  -- Set by the validation pass (every row read once, nothing changed).
  validated       boolean NOT NULL DEFAULT false,
  rows_total      integer NOT NULL DEFAULT 0,
  -- Rows applied (or skipped as invalid): each batch commits its changes with this count, so a
  -- job resumed after a crash or a restart starts after the last committed batch.
  rows_done       integer NOT NULL DEFAULT 0,
  created_count   integer NOT NULL DEFAULT 0,
  updated_count   integer NOT NULL DEFAULT 0,
  unchanged_count integer NOT NULL DEFAULT 0,
  error_count     integer NOT NULL DEFAULT 0,
  failure         text,
  created_by      uuid,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  finished_at     timestamptz,
  PRIMARY KEY (brand_id, id)
);

CREATE TABLE import_chunks (
  brand_id  uuid NOT NULL,
  import_id uuid NOT NULL,
  seq       integer NOT NULL,
  data      bytea NOT NULL,
  PRIMARY KEY (brand_id, import_id, seq),
  FOREIGN KEY (brand_id, import_id) REFERENCES imports (brand_id, id) ON DELETE CASCADE
);

CREATE TABLE import_errors (
  brand_id  uuid NOT NULL,
  import_id uuid NOT NULL,
  id        bigint NOT NULL GENERATED ALWAYS AS IDENTITY,
  -- The file's line of the record (the header is row 1), and the column ('' for the whole row).
  row_number integer NOT NULL,
  column_name text NOT NULL,
  message   text NOT NULL,
  PRIMARY KEY (brand_id, import_id, id),
  FOREIGN KEY (brand_id, import_id) REFERENCES imports (brand_id, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['imports', 'import_chunks', 'import_errors'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY brand_isolation ON %I
      USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
      WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))$p$, t);
  END LOOP;
END
$$;
