-- name: ImportCreate :one
INSERT INTO imports (brand_id, id, kind, mode, dry_run, file_bytes, created_by, created_at, updated_at)
VALUES (@brand_id, @id, @kind, @mode, @dry_run, @file_bytes, @created_by, @now, @now)
RETURNING *;

-- name: ImportChunkAdd :exec
INSERT INTO import_chunks (brand_id, import_id, seq, data) VALUES (@brand_id, @import_id, @seq, @data);

-- name: ImportChunkGet :one
-- One chunk of the file; the job reads them in order, one at a time.
SELECT data FROM import_chunks WHERE brand_id = @brand_id AND import_id = @import_id AND seq = @seq;

-- name: ImportEnqueue :exec
-- Enqueues river's job that works the import, in the upload's transaction (as
-- WebhookDeliveryEnqueue does): it becomes visible with the import, and survives a restart.
INSERT INTO river_job (args, kind, max_attempts, queue, state, priority, scheduled_at)
VALUES (jsonb_build_object('brandId', @brand_id::uuid, 'importId', @import_id::uuid), 'csv_import', 25, 'imports', 'available', 1, now());

-- name: ImportGet :one
SELECT * FROM imports WHERE brand_id = @brand_id AND id = @id;

-- name: ImportGetForUpdate :one
SELECT * FROM imports WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: ImportStart :exec
UPDATE imports SET status = 'running', updated_at = @now
WHERE brand_id = @brand_id AND id = @id AND status = 'queued';

-- name: ImportValidated :exec
-- Ends the validation pass: the rows counted, the errors found (the first of them are stored).
UPDATE imports SET validated = true, rows_total = @rows_total, error_count = @error_count, updated_at = @now
WHERE brand_id = @brand_id AND id = @id;

-- name: ImportProgress :exec
-- A batch applied, in the batch's own transaction.
UPDATE imports
SET rows_done = @rows_done,
    created_count = created_count + @created::integer,
    updated_count = updated_count + @updated::integer,
    unchanged_count = unchanged_count + @unchanged::integer,
    error_count = error_count + @errors::integer,
    updated_at = @now
WHERE brand_id = @brand_id AND id = @id;

-- name: ImportFinish :one
UPDATE imports SET status = @status, failure = @failure, updated_at = @now, finished_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: ImportDropFile :exec
-- The file of a finished import is not needed any more.
DELETE FROM import_chunks WHERE brand_id = @brand_id AND import_id = @import_id;

-- name: ImportErrorsAdd :exec
INSERT INTO import_errors (brand_id, import_id, row_number, column_name, message)
SELECT @brand_id, @import_id, unnest(@rows::integer[]), unnest(@columns::text[]), unnest(@messages::text[]);

-- name: ImportErrorsCount :one
SELECT count(*) FROM import_errors WHERE brand_id = @brand_id AND import_id = @import_id;

-- name: ImportErrorsFirst :many
SELECT row_number, column_name, message FROM import_errors
WHERE brand_id = @brand_id AND import_id = @import_id
ORDER BY id
LIMIT @max_items;

-- name: ImportErrorsPage :many
-- Errors in the order found, after the one with id after_id (the export reads them in batches).
SELECT id, row_number, column_name, message FROM import_errors
WHERE brand_id = @brand_id AND import_id = @import_id AND id > @after_id
ORDER BY id
LIMIT @max_items;

-- name: ProductsExportPage :many
-- The brand's products in SKU order after after_sku, a batch at a time (the products export),
-- each variant with its product's SKU (its parentSku column).
SELECT sqlc.embed(p), coalesce(pp.sku, '')::text AS parent_sku
FROM products p
LEFT JOIN products pp ON pp.brand_id = p.brand_id AND pp.id = p.parent_id
WHERE p.brand_id = @brand_id AND p.sku > @after_sku::text
ORDER BY p.sku
LIMIT @max_items;

-- name: ProductsBySku :many
-- The products of the given SKUs (an import's variant rows: their parents, and what a product or
-- variant saved one by one holds already, so an unchanged row is left alone).
SELECT * FROM products WHERE brand_id = @brand_id AND sku = ANY(@skus::text[]);

-- name: ProductIdsBySku :many
SELECT id, sku FROM products WHERE brand_id = @brand_id AND sku = ANY(@skus::text[]);

-- name: LocationIdsByCode :many
SELECT id, code, active FROM locations WHERE brand_id = @brand_id AND code = ANY(@codes::text[]);

-- name: ImportJobHeartbeat :exec
-- Keeps a long import's job from looking abandoned: river's rescuer retries a running job whose
-- attempted_at is older than its bound.
UPDATE river_job SET attempted_at = now() WHERE id = @id AND state = 'running';

-- name: ImportBatchAsyncCommit :exec
-- An import batch's transaction commits without waiting for its WAL flush: the batch's changes,
-- events and the import's progress commit together, so a commit lost to a crash loses them all
-- and the resumed import applies the batch again (PostgreSQL's asynchronous commit never
-- reorders or tears transactions).
SELECT set_config('synchronous_commit', 'off', true);
