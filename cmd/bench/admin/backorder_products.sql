-- The backorder_fill scenario's setup (issue 22): products @products of brand @brand, its own
-- (no seed or other scenario knows their ids, so none stocks them: the valuation seed stocks
-- every catalog product), active, allowing backorders. A second run finds them as the first left
-- them: what its receipts received is held by the orders they filled, none available. Answers how
-- many it made or found.
WITH u AS (
  INSERT INTO products (brand_id, id, sku, name, price_amount, currency, status, allow_backorder,
                        created_at, updated_at)
  -- Dated long ago: the product list's first page (newest first) stays the catalog's.
  SELECT @brand::uuid, p, 'BENCH-BACKORDER-' || n, 'Backordered item ' || n, 1000, 'USD', 'active', true,
         '2001-01-01', '2001-01-01'
  FROM unnest(@products::uuid[]) WITH ORDINALITY AS t(p, n)
  ON CONFLICT (brand_id, id) DO UPDATE SET allow_backorder = true, status = 'active'
  RETURNING 1
)
SELECT count(*)::int FROM u;
