-- name: ProductCreate :one
-- currency defaults to the brand's.
INSERT INTO products (brand_id, id, sku, name, description, price_amount, currency, status,
                      attributes, tags, parent_id, options, option_values, images, barcode, weight_grams,
                      allow_backorder, created_at, updated_at)
VALUES (@brand_id, @id, @sku, @name, @description, @price_amount,
        coalesce(sqlc.narg(currency)::text, (SELECT b.currency FROM brands b WHERE b.id = @brand_id)),
        @status, @attributes, @tags, sqlc.narg(parent_id)::uuid, @options, @option_values, @images,
        sqlc.narg(barcode)::text, sqlc.narg(weight_grams)::bigint, @allow_backorder, @now, @now)
RETURNING *;

-- name: ProductGet :one
SELECT * FROM products WHERE brand_id = @brand_id AND id = @id;

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
  -- Without parent_id the list is the catalog as shown (variants are inside their parents);
  -- with it, that parent's variants.
  AND CASE WHEN sqlc.narg(parent_id)::uuid IS NULL THEN parent_id IS NULL
           ELSE parent_id = sqlc.narg(parent_id)::uuid END
  AND (sqlc.narg(status)::product_status IS NULL OR status = sqlc.narg(status)::product_status)
  AND (sqlc.narg(tag)::text IS NULL OR tags @> ARRAY[sqlc.narg(tag)::text])
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

-- name: ProductSearch :many
-- ProductList for a search (`q`): the same filters, orders and keysets, and only the products whose
-- name or SKU matches @pattern (ILIKE). The ids come from product_search, a view of the brand's
-- rows of product_search_terms (schema/000028), which is not under row-level security: ILIKE is
-- an index condition there, and the planner reads the term's statistics; the rows themselves come
-- from products under its policy. The IN is a top-level condition so that the planner may join
-- either way: from the trigram matches (a rare term) or along the order's index, looking each
-- row's id up in the view (a common one).
SELECT * FROM products
WHERE brand_id = @brand_id
  AND id IN (SELECT search_id FROM product_search
             WHERE search_name ILIKE @pattern::text OR search_sku ILIKE @pattern::text)
  AND CASE WHEN sqlc.narg(parent_id)::uuid IS NULL THEN parent_id IS NULL
           ELSE parent_id = sqlc.narg(parent_id)::uuid END
  AND (sqlc.narg(status)::product_status IS NULL OR status = sqlc.narg(status)::product_status)
  AND (sqlc.narg(tag)::text IS NULL OR tags @> ARRAY[sqlc.narg(tag)::text])
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
                           attributes, tags, images, barcode, weight_grams, allow_backorder, created_at, updated_at)
SELECT @brand_id::uuid, (x.item ->> 'id')::uuid, x.sku, x.item ->> 'name', x.item ->> 'description',
       (x.item ->> 'priceAmount')::bigint,
       coalesce(x.item ->> 'currency', (SELECT b.currency FROM brands b WHERE b.id = @brand_id::uuid)),
       coalesce((x.item ->> 'status')::product_status, 'draft'),
       coalesce(x.item -> 'attributes', '{}'),
       coalesce(ARRAY(SELECT jsonb_array_elements_text(x.item -> 'tags')), '{}'),
       coalesce(x.item -> 'images', '[]'), x.item ->> 'barcode', (x.item ->> 'weightGrams')::bigint,
       coalesce((x.item ->> 'allowBackorder')::boolean, false),
       @now::timestamptz, @now::timestamptz
FROM jsonb_each(@items::jsonb) AS x(sku, item)
ORDER BY x.sku COLLATE "C"
ON CONFLICT (brand_id, sku) DO UPDATE
SET name = excluded.name,
    price_amount = excluded.price_amount,
    description = CASE WHEN (@items::jsonb -> excluded.sku) ? 'description' THEN excluded.description ELSE p.description END,
    -- A variant is priced in its parent's currency (catalog.Save keeps them in step).
    currency = CASE WHEN (@items::jsonb -> excluded.sku) ? 'currency' AND p.parent_id IS NULL THEN excluded.currency ELSE p.currency END,
    images = CASE WHEN (@items::jsonb -> excluded.sku) ? 'images' THEN excluded.images ELSE p.images END,
    barcode = CASE WHEN (@items::jsonb -> excluded.sku) ? 'barcode' THEN excluded.barcode ELSE p.barcode END,
    weight_grams = CASE WHEN (@items::jsonb -> excluded.sku) ? 'weightGrams' THEN excluded.weight_grams ELSE p.weight_grams END,
    allow_backorder = CASE WHEN (@items::jsonb -> excluded.sku) ? 'allowBackorder' THEN excluded.allow_backorder ELSE p.allow_backorder END,
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
   OR ((@items::jsonb -> excluded.sku) ? 'images' AND p.images IS DISTINCT FROM excluded.images)
   OR ((@items::jsonb -> excluded.sku) ? 'barcode' AND p.barcode IS DISTINCT FROM excluded.barcode)
   OR ((@items::jsonb -> excluded.sku) ? 'weightGrams' AND p.weight_grams IS DISTINCT FROM excluded.weight_grams)
   OR ((@items::jsonb -> excluded.sku) ? 'allowBackorder' AND p.allow_backorder IS DISTINCT FROM excluded.allow_backorder)
RETURNING p.*, (p.xmax = 0)::boolean AS created;

-- name: ProductLock :one
-- The product, locked for a change that reads before it writes (options, variants). FOR UPDATE
-- also waits for, and then excludes, a stock change or an order naming it (the stock engine reads
-- the products it holds or moves FOR KEY SHARE: ProductsAvailability).
SELECT * FROM products WHERE brand_id = @brand_id AND id = @id FOR UPDATE;

-- name: ProductLockBySku :one
SELECT * FROM products WHERE brand_id = @brand_id AND sku = @sku FOR UPDATE;

-- name: ProductSave :one
-- Writes every field of a product locked by ProductLock (the caller merged the change into it).
UPDATE products
SET sku = @sku, name = @name, description = sqlc.narg(description), price_amount = @price_amount,
    currency = @currency, status = @status, attributes = @attributes, tags = @tags,
    options = @options, option_values = @option_values, images = @images,
    barcode = sqlc.narg(barcode), weight_grams = sqlc.narg(weight_grams), allow_backorder = @allow_backorder,
    version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: ProductStockedOrOrdered :one
-- Whether stock or orders refer to the product: such a product cannot become a parent (its stock
-- and order lines would name an item that is no longer sellable).
SELECT (EXISTS (SELECT 1 FROM stock_levels l WHERE l.brand_id = @brand_id AND l.product_id = @id)
    OR EXISTS (SELECT 1 FROM order_lines o WHERE o.brand_id = @brand_id AND o.product_id = @id))::boolean AS used;

-- name: VariantsLock :many
-- A parent's variants, locked (by id) to rewrite what they copy of it.
SELECT * FROM products WHERE brand_id = @brand_id AND parent_id = @parent_id ORDER BY id FOR UPDATE;

-- name: VariantCount :one
SELECT count(*) FROM products WHERE brand_id = @brand_id AND parent_id = @parent_id;

-- name: VariantRewrite :one
-- What a variant copies of its parent (option names and values, currency), after the parent changed.
UPDATE products
SET option_values = @option_values, currency = @currency, version = version + 1, updated_at = @now
WHERE brand_id = @brand_id AND id = @id
RETURNING *;

-- name: VariantSummaries :many
-- Each parent's variant count and price range.
SELECT parent_id::uuid AS parent_id, count(*) AS variants,
       min(price_amount)::bigint AS min_price, max(price_amount)::bigint AS max_price
FROM products
WHERE brand_id = @brand_id AND parent_id = ANY(@parent_ids::uuid[])
GROUP BY parent_id;

-- name: VariantGet :one
SELECT * FROM products WHERE brand_id = @brand_id AND parent_id = @parent_id AND id = @id;

-- name: VariantList :many
-- A parent's variants, oldest first (products_parent_idx).
SELECT * FROM products
WHERE brand_id = @brand_id AND parent_id = @parent_id
  AND (sqlc.narg(after_created)::timestamptz IS NULL
       OR (created_at, id) > (sqlc.narg(after_created)::timestamptz, sqlc.narg(after_id)::uuid))
ORDER BY created_at, id
LIMIT @row_limit;
