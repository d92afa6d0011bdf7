-- Statistics for the stock just written (each run's admin/vacuum.sql analyzes again).
ANALYZE locations, stock_levels, stock_movements, bench_stock_products
