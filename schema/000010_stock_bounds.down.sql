ALTER TABLE stock_movements DROP CONSTRAINT IF EXISTS stock_movements_sign;
ALTER TABLE stock_levels DROP CONSTRAINT IF EXISTS stock_levels_bound;
