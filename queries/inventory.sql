-- name: ProductsAvailability :many
-- The products a stock change names (missing ones are absent): a variant is sellable only while
-- its parent is too (the less sellable of the two statuses), and a product with options (a
-- parent) is never held or moved itself; and their average cost (recorded on movements that take
-- stock away). FOR KEY SHARE: a product cannot become a parent (ProductLock, FOR UPDATE) while a
-- change of its stock is under way, nor the other way round.
SELECT p.id, p.sku, p.name, p.option_values, p.options <> '[]'::jsonb AS has_options, p.allow_backorder,
       (CASE WHEN p.status = 'archived' OR par.status = 'archived' THEN 'archived'
             WHEN p.status = 'draft' OR par.status = 'draft' THEN 'draft'
             ELSE 'active' END)::product_status AS status,
       c.average_cost
FROM products p
LEFT JOIN products par ON par.brand_id = p.brand_id AND par.id = p.parent_id
LEFT JOIN product_costs c ON c.brand_id = p.brand_id AND c.product_id = p.id
WHERE p.brand_id = @brand_id AND p.id = ANY(@ids::uuid[])
ORDER BY p.id
FOR KEY SHARE OF p;
