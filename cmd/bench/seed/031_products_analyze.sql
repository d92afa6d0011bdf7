-- Statistics for the catalog just written, so that nothing is planned with those of an empty table
-- (each run also starts with admin/vacuum.sql, which analyzes again).
ANALYZE products
