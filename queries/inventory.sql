-- name: ProductsAvailability :many
-- The status of the products a stock change names (missing ones are absent).
SELECT id, sku, name, status FROM products WHERE brand_id = @brand_id AND id = ANY(@ids::uuid[]);
