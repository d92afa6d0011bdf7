-- A `q` search is planned for its term's share of names, read from the histogram of
-- product_search_terms.name: the trigram indexes for a rare term, a walk of the brand's newest
-- products for a common one (000027, 000028). A rare term's share comes out of ANALYZE's sample,
-- and now and then the sample puts it on several entries: at 400 entries, two or three entries
-- (0.5-0.75%) made a term in one name in a thousand walk the brand, some 200 ms a search instead
-- of half a millisecond. That happened in 2 ANALYZEs of 120 on the bench catalog (200,000 names),
-- in 6 of 60 on a catalog of 600,000 whose sample is a fifth of it, and in two full load runs
-- in a row (2026-12-07 and -08: the rare search at 64 connections fell to 11 a second, 157 of
-- its requests 503).
--
-- At 1,000 entries one entry is a tenth of a percent and the same term must land on five: 1
-- ANALYZE in 60 on the 600,000-name catalog (none in the bench catalog, which ANALYZE now reads
-- whole). The price is planning: each search tests its pattern against the larger histogram and
-- common values, pgbench of the search's transaction ran about a tenth slower (rare term 622/s
-- against 743/s, common 393/s against 435/s on that catalog); 2,000 entries would halve it
-- (bench/README.md, "The full run of stop 41, and the rare search's plan again").
ALTER TABLE product_search_terms ALTER COLUMN name SET STATISTICS 1000;
ANALYZE product_search_terms;
