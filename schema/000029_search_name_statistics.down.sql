ALTER TABLE product_search_terms ALTER COLUMN name SET STATISTICS 400;
ANALYZE product_search_terms;
