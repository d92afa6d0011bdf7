-- After every run of an inventory or order scenario (once the reservations it left are released):
-- how many levels there are and how many are oversold (reserved below 0 or above on_hand: the CHECK
-- constraints refuse it, this proves it). The ledger and the holds are checked per brand with the
-- stock engine's own invariant queries (queries/stock/invariants.sql), the ones every test asserts.
SELECT (SELECT count(*) FROM stock_levels)::int AS levels,
       (SELECT count(*) FROM stock_levels WHERE reserved < 0 OR reserved > on_hand)::int AS oversold
