-- Stock bounds (issue 16, items 4 and 6).
--
-- A level holds at most 10^12 units on hand (so reserved, which never exceeds on_hand, too): exact
-- in every JSON client (JavaScript's 2^53 included) and far from bigint's end, so that no sum of
-- a level and a request's delta can overflow. The engine checks it on the locked level first and
-- answers 422 quantity_limit; this constraint is the last line of defence, and its violation is
-- translated to the same answer (server/inventory, LevelBoundConstraint). Adding it scans the
-- table: it fails, on purpose, if a level is already past the bound (fix that level by hand with
-- an adjustment first).
ALTER TABLE stock_levels ADD CONSTRAINT stock_levels_bound
  CHECK (on_hand <= 1000000000000 AND reserved <= 1000000000000);

-- Each movement kind keeps its sign (openapi.yaml, MovementKind). NOT VALID: rows written before
-- the rule (receipts and returns of negative quantities were accepted) stay in the append-only
-- ledger as they are; every new row is checked.
ALTER TABLE stock_movements ADD CONSTRAINT stock_movements_sign CHECK (
  CASE kind
    WHEN 'receipt' THEN on_hand_delta > 0 AND reserved_delta = 0
    WHEN 'return' THEN on_hand_delta > 0 AND reserved_delta = 0
    WHEN 'adjustment' THEN on_hand_delta <> 0 AND reserved_delta = 0
    WHEN 'count' THEN on_hand_delta <> 0 AND reserved_delta = 0
    WHEN 'transfer_out' THEN on_hand_delta < 0 AND reserved_delta = 0
    WHEN 'transfer_in' THEN on_hand_delta > 0 AND reserved_delta = 0
    WHEN 'reservation' THEN on_hand_delta = 0 AND reserved_delta > 0
    WHEN 'release' THEN on_hand_delta = 0 AND reserved_delta < 0
    WHEN 'fulfilment' THEN on_hand_delta < 0 AND reserved_delta = on_hand_delta
  END
) NOT VALID;
