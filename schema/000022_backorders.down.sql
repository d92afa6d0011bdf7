DROP TABLE order_backorders;
ALTER TABLE stock_levels DROP CONSTRAINT stock_levels_backordered, DROP COLUMN backordered;
ALTER TABLE products DROP COLUMN allow_backorder;
