ALTER TABLE order_lines DROP COLUMN option_values;
DROP INDEX products_parent_idx;
DROP INDEX products_option_values_key;
ALTER TABLE products
  DROP CONSTRAINT products_variant_shape,
  DROP CONSTRAINT products_barcode_key,
  DROP CONSTRAINT products_parent_fkey,
  DROP COLUMN weight_grams,
  DROP COLUMN barcode,
  DROP COLUMN images,
  DROP COLUMN option_values,
  DROP COLUMN options,
  DROP COLUMN parent_id;
