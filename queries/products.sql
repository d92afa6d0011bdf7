-- name: ProductCreate :one
-- currency defaults to the brand's.
INSERT INTO products (brand_id, id, sku, name, description, price_amount, currency, status,
                      attributes, tags, created_at, updated_at)
VALUES (@brand_id, @id, @sku, @name, @description, @price_amount,
        coalesce(sqlc.narg(currency)::text, (SELECT b.currency FROM brands b WHERE b.id = @brand_id)),
        @status, @attributes, @tags, @now, @now)
RETURNING *;

-- name: ProductGet :one
SELECT * FROM products WHERE brand_id = @brand_id AND id = @id;

-- name: ProductUpdate :one
-- Changes the fields given, only at one of the expected versions when If-Match names some. No row:
-- the product is missing or the version stale.
UPDATE products
SET sku = coalesce(sqlc.narg(sku)::text, sku),
    name = coalesce(sqlc.narg(name)::text, name),
    description = CASE WHEN @clear_description::boolean THEN NULL
                       ELSE coalesce(sqlc.narg(description)::text, description) END,
    price_amount = coalesce(sqlc.narg(price_amount)::bigint, price_amount),
    currency = coalesce(sqlc.narg(currency)::text, currency),
    status = coalesce(sqlc.narg(status)::product_status, status),
    attributes = coalesce(sqlc.narg(attributes)::jsonb, attributes),
    tags = coalesce(sqlc.narg(tags)::text[], tags),
    version = version + 1,
    updated_at = @now
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: ProductDelete :one
-- No row: the product is missing or the version stale. A product referenced by stock or orders
-- is protected by their foreign keys (the delete fails with a foreign key violation). The row
-- comes back for its product.deleted event.
DELETE FROM products
WHERE brand_id = @brand_id AND id = @id
  AND (sqlc.narg(expected_versions)::bigint[] IS NULL OR version = ANY(sqlc.narg(expected_versions)::bigint[]))
RETURNING *;

-- name: ProductList :many
-- The list in each of its four orders (@sort, as the API names them: -createdAt, createdAt, name,
-- -name), each resuming after its own keyset. It must run planned for its parameters
-- (kit.ListInBrand: force_custom_plan): @sort is then a constant, and the planner folds each CASE
-- to the one order and keyset asked for, which products_created_idx or products_name_idx serves
-- exactly as one query per order did (walked backward for createdAt and -name). A generic plan
-- could use neither index for the order.
SELECT * FROM products
WHERE brand_id = @brand_id
  AND (sqlc.narg(status)::product_status IS NULL OR status = sqlc.narg(status)::product_status)
  AND (sqlc.narg(tag)::text IS NULL OR tags @> ARRAY[sqlc.narg(tag)::text])
  AND (sqlc.narg(pattern)::text IS NULL OR name ILIKE sqlc.narg(pattern)::text OR sku ILIKE sqlc.narg(pattern)::text)
  AND CASE @sort::text
        WHEN '-createdAt' THEN sqlc.narg(after_created)::timestamptz IS NULL
          OR (created_at, id) < (sqlc.narg(after_created)::timestamptz, sqlc.narg(after_id)::uuid)
        WHEN 'createdAt' THEN sqlc.narg(after_created)::timestamptz IS NULL
          OR (created_at, id) > (sqlc.narg(after_created)::timestamptz, sqlc.narg(after_id)::uuid)
        WHEN 'name' THEN sqlc.narg(after_name)::text IS NULL
          OR (name, id) > (sqlc.narg(after_name)::text, sqlc.narg(after_id)::uuid)
        WHEN '-name' THEN sqlc.narg(after_name)::text IS NULL
          OR (name, id) < (sqlc.narg(after_name)::text, sqlc.narg(after_id)::uuid)
        ELSE false -- no such order: nothing
      END
ORDER BY CASE WHEN @sort::text = '-createdAt' THEN created_at END DESC,
         CASE WHEN @sort::text = '-createdAt' THEN id END DESC,
         CASE WHEN @sort::text = 'createdAt' THEN created_at END,
         CASE WHEN @sort::text = 'createdAt' THEN id END,
         CASE WHEN @sort::text = 'name' THEN name END,
         CASE WHEN @sort::text = 'name' THEN id END,
         CASE WHEN @sort::text = '-name' THEN name END DESC,
         CASE WHEN @sort::text = '-name' THEN id END DESC
LIMIT @row_limit;

-- name: ProductBulkUpsert :many
-- Creates or updates products by SKU in one statement (the bulk upsert, and CSV imports). The items parameter is a JSON object keyed
-- by SKU; each value holds the product's fields under their API names plus a fresh id for the
-- create case. A field an item leaves out takes its create default on insert and keeps the stored
-- value on update: the update tests the key's presence in the item (jsonb `?`), since `excluded`
-- alone cannot tell "left out" from "given the default".
--
-- Rows are inserted, and so locked, in SKU order: two batches that share SKUs then wait for each
-- other in the same order instead of deadlocking (whatever order their clients sent them in).
INSERT INTO products AS p (brand_id, id, sku, name, description, price_amount, currency, status,
                           attributes, tags, created_at, updated_at)
SELECT @brand_id::uuid, (x.item ->> 'id')::uuid, x.sku, x.item ->> 'name', x.item ->> 'description',
       (x.item ->> 'priceAmount')::bigint,
       coalesce(x.item ->> 'currency', (SELECT b.currency FROM brands b WHERE b.id = @brand_id::uuid)),
       coalesce((x.item ->> 'status')::product_status, 'draft'),
       coalesce(x.item -> 'attributes', '{}'),
       coalesce(ARRAY(SELECT jsonb_array_elements_text(x.item -> 'tags')), '{}'),
       @now::timestamptz, @now::timestamptz
FROM jsonb_each(@items::jsonb) AS x(sku, item)
ORDER BY x.sku COLLATE "C"
ON CONFLICT (brand_id, sku) DO UPDATE
SET name = excluded.name,
    price_amount = excluded.price_amount,
    description = CASE WHEN (@items::jsonb -> excluded.sku) ? 'description' THEN excluded.description ELSE p.description END,
    currency = CASE WHEN (@items::jsonb -> excluded.sku) ? 'currency' THEN excluded.currency ELSE p.currency END,
    status = CASE WHEN (@items::jsonb -> excluded.sku) ? 'status' THEN excluded.status ELSE p.status END,
    attributes = CASE WHEN (@items::jsonb -> excluded.sku) ? 'attributes' THEN excluded.attributes ELSE p.attributes END,
    tags = CASE WHEN (@items::jsonb -> excluded.sku) ? 'tags' THEN excluded.tags ELSE p.tags END,
    version = p.version + 1,
    updated_at = excluded.updated_at
-- With skip_unchanged (CSV imports), an item equal to the stored product is left alone: no new
-- version, and no row comes back for it.
WHERE NOT @skip_unchanged::boolean
   OR p.name IS DISTINCT FROM excluded.name
   OR p.price_amount IS DISTINCT FROM excluded.price_amount
   OR ((@items::jsonb -> excluded.sku) ? 'description' AND p.description IS DISTINCT FROM excluded.description)
   OR ((@items::jsonb -> excluded.sku) ? 'currency' AND p.currency IS DISTINCT FROM excluded.currency)
   OR ((@items::jsonb -> excluded.sku) ? 'status' AND p.status IS DISTINCT FROM excluded.status)
   OR ((@items::jsonb -> excluded.sku) ? 'attributes' AND p.attributes IS DISTINCT FROM excluded.attributes)
   OR ((@items::jsonb -> excluded.sku) ? 'tags' AND p.tags IS DISTINCT FROM excluded.tags)
RETURNING p.*, (p.xmax = 0)::boolean AS created;
