-- name: ProductsAvailability :many
-- The status of the products a stock change names (missing ones are absent), and their average
-- cost (recorded on movements that take stock away).
SELECT p.id, p.sku, p.name, p.status, c.average_cost FROM products p
LEFT JOIN product_costs c ON c.brand_id = p.brand_id AND c.product_id = p.id
WHERE p.brand_id = @brand_id AND p.id = ANY(@ids::uuid[]);
