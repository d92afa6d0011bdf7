DROP INDEX IF EXISTS stock_movements_cost_idx;
DROP INDEX IF EXISTS stock_movements_purchase_order_idx;
ALTER TABLE stock_movements DROP CONSTRAINT stock_movements_purchase_order_fkey,
  DROP COLUMN purchase_order_id, DROP COLUMN average_cost, DROP COLUMN unit_cost;
ALTER TABLE stock_levels DROP CONSTRAINT stock_levels_incoming, DROP COLUMN reorder_quantity, DROP COLUMN incoming;
DROP TABLE product_costs;
DROP TABLE purchase_order_lines;
DROP TABLE purchase_orders;
DROP TABLE purchase_order_counters;
DROP TYPE purchase_order_status;
DROP TABLE suppliers;
