DROP INDEX webhook_attempts_delivery_idx;
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
DROP INDEX order_lines_product_idx;
