-- The backorder_fill scenario's setup (issue 22): products @products of brand @brand allow
-- backorders and are active. Answers how many it changed.
WITH u AS (
  UPDATE products SET allow_backorder = true, status = 'active'
  WHERE brand_id = @brand::uuid AND id = ANY(@products::uuid[]) AND options = '[]'::jsonb
  RETURNING 1
)
SELECT count(*)::int FROM u;
