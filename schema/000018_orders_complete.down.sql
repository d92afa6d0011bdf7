-- Enum values cannot be dropped: orders a return moved go back to fulfilled, and the values stay
-- unused (re-applying the up migration adds them IF NOT EXISTS).
DROP TABLE refunds;
DROP TABLE return_lines;
DROP TABLE returns;
DROP TYPE return_disposition;
DROP TYPE return_reason;
DROP TYPE return_status;
UPDATE orders SET status = 'fulfilled' WHERE status IN ('partially_returned', 'returned');
DELETE FROM order_events WHERE action = 'return';
ALTER TABLE order_lines
  DROP COLUMN discounts, DROP COLUMN tax_lines, DROP COLUMN discount_total, DROP COLUMN tax_total,
  DROP COLUMN cancelled_quantity, DROP COLUMN returned_quantity;
DROP INDEX orders_customer_idx;
ALTER TABLE orders
  DROP COLUMN customer_id, DROP COLUMN shipping_amount, DROP COLUMN shipping_method, DROP COLUMN discounts,
  DROP COLUMN tax_lines, DROP COLUMN discount_total, DROP COLUMN tax_total, DROP COLUMN cancelled_total,
  DROP COLUMN refunded_total;
DROP TABLE customers;
