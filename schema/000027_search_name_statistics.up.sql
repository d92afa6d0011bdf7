-- A `q` search (ProductSearch) is planned for its pattern, and the planner chooses between two
-- plans by the pattern's estimated selectivity: the trigram indexes for a rare term, or a walk of
-- the list's own order testing each row for a common one. Where the migrations ran as a superuser,
-- 000004 marked ILIKE leakproof, and that estimate is the share of products.name's histogram
-- entries that match (elsewhere PostgreSQL may not read statistics through the brands' policies
-- with ILIKE, and takes a fixed guess: the trigram indexes for every term). With the default 100
-- entries, a term in one name in a thousand is missing from most samples (the trigram plan:
-- 1-3 ms) but lands on an entry in about one ANALYZE in ten; it then looks like one name in a
-- hundred, and the rare search walks the whole brand: 200 ms alone, a collapse under load
-- (bench/README.md, "The searches' plan, settled"). With 400 entries one entry is a quarter
-- of a percent, below the point where the planner prefers the walk (between 0.5% and 1% on the
-- bench catalog), and such a term needs four to reach it: about one ANALYZE in two thousand.
-- The price is planning: each search's estimate tests the pattern against 400 entries instead of
-- 100 (pgbench of the bench's rare search: about a sixth fewer per second), and ANALYZE samples
-- 120,000 rows of products instead of 30,000. SKUs keep the default: their patterns are codes,
-- and the walk-or-index choice turns on names.
ALTER TABLE products ALTER COLUMN name SET STATISTICS 400;
ANALYZE products;
