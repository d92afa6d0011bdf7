-- Options and variants, images, barcodes (issue 20).
--
-- A variant is a product row with a parent: every stock, reservation, order and fulfilment keeps
-- naming one product id, whether the item sold is a plain product or a variant. A parent declares
-- options (up to 3, each a name and its ordered values) and is not sellable itself; the stock
-- engine refuses to hold or move stock of a product whose options are not empty (422
-- variant_required). A product without options is what it always was.
ALTER TABLE products
  ADD COLUMN parent_id     uuid,
  -- [{"name": "Size", "values": ["S", "M", "L"]}, ...] on a parent; [] everywhere else.
  ADD COLUMN options       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(options) = 'array' AND jsonb_array_length(options) <= 3),
  -- [{"name": "Size", "value": "M"}, ...] on a variant, one per option of its parent, in their
  -- order; [] everywhere else. Kept with its names so stock levels and order lines show it
  -- without a join to the parent; a rename of the parent's option rewrites its variants' copies
  -- in the same transaction.
  ADD COLUMN option_values jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(option_values) = 'array'),
  -- [{"url": "https://...", "alt": "..."}, ...], in display order.
  ADD COLUMN images        jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(images) = 'array' AND jsonb_array_length(images) <= 20),
  -- A GTIN-8, -12, -13 or -14 (the server verifies its check digit).
  ADD COLUMN barcode       text CHECK (barcode ~ '^([0-9]{8}|[0-9]{12,14})$'),
  ADD COLUMN weight_grams  bigint CHECK (weight_grams BETWEEN 0 AND 1000000000),
  -- brand_id is in the key: a variant's parent is always of its brand (and the table stays
  -- distributable by brand_id). Deleting a parent that has variants fails on this key.
  ADD CONSTRAINT products_parent_fkey FOREIGN KEY (brand_id, parent_id) REFERENCES products (brand_id, id),
  ADD CONSTRAINT products_barcode_key UNIQUE (brand_id, barcode),
  -- A variant has option values and no options of its own; anything else has no option values.
  ADD CONSTRAINT products_variant_shape CHECK (
    (parent_id IS NULL AND option_values = '[]') OR (parent_id IS NOT NULL AND option_values <> '[]' AND options = '[]'));

-- One variant per combination of option values within a product.
CREATE UNIQUE INDEX products_option_values_key ON products (brand_id, parent_id, option_values) WHERE parent_id IS NOT NULL;
-- A parent's variants, oldest first (the variants list's keyset), and the default product list,
-- which shows only products that are not variants.
CREATE INDEX products_parent_idx ON products (brand_id, parent_id, created_at, id) WHERE parent_id IS NOT NULL;

-- Order lines show the option values of the variant sold, as they were when it was sold (like
-- sku and name).
ALTER TABLE order_lines ADD COLUMN option_values jsonb NOT NULL DEFAULT '[]';
