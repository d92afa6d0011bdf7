-- name: OrderAllocationsAdd :exec
INSERT INTO order_allocations (brand_id, order_id, line_id, seq, product_id, location_id, quantity)
SELECT @brand_id::uuid, @order_id::uuid, unnest(@line_ids::uuid[]), unnest(@seqs::int[]),
       unnest(@product_ids::uuid[]), unnest(@location_ids::uuid[]), unnest(@quantities::bigint[]);

-- name: OrderAllocations :many
SELECT * FROM order_allocations WHERE brand_id = @brand_id AND order_id = ANY(@order_ids::uuid[])
ORDER BY order_id, line_id, seq;

-- name: OrderAllocationFulfil :exec
UPDATE order_allocations SET fulfilled_quantity = fulfilled_quantity + @quantity
WHERE brand_id = @brand_id AND order_id = @order_id AND line_id = @line_id AND location_id = @location_id;
