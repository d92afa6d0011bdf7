-- Backorders (issue 22): a product (or variant) that allows them may be ordered beyond what is
-- available; the rest of a line waits at one location as an order_backorders row (the claim),
-- and each stock arrival there (receipt, return, positive adjustment or count, transfer in)
-- fills the waiting claims first, oldest order first by number, in its own transaction.
--
-- Correct by construction:
-- - a claim is created, filled or dropped only by a transaction that holds its level FOR UPDATE
--   (the stock engine's verbs), so stock_levels.backordered is always the sum of its claims
--   (BackorderMismatches proves it beside the other stock invariants);
-- - a claim is never stock: it is in neither on_hand nor reserved, so "held + available =
--   on hand − reserved elsewhere" is untouched; filling turns it into an order hold (a
--   `reservation` movement and an order_allocations row) in one step.
-- - a cancelled order has no claims (cancelling deletes them under the level's lock).

ALTER TABLE products ADD COLUMN allow_backorder boolean NOT NULL DEFAULT false;

ALTER TABLE stock_levels
  ADD COLUMN backordered bigint NOT NULL DEFAULT 0,
  ADD CONSTRAINT stock_levels_backordered CHECK (backordered >= 0);

CREATE TABLE order_backorders (
  brand_id     uuid NOT NULL,
  order_id     uuid NOT NULL,
  line_id      uuid NOT NULL,
  -- the order's number, copied: the fill order is (number, line), read from one index.
  order_number bigint NOT NULL,
  product_id   uuid NOT NULL,
  location_id  uuid NOT NULL,
  quantity     bigint NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (brand_id, order_id, line_id),
  FOREIGN KEY (brand_id, order_id, line_id) REFERENCES order_lines (brand_id, order_id, id),
  FOREIGN KEY (brand_id, product_id, location_id) REFERENCES stock_levels (brand_id, product_id, location_id)
);
CREATE INDEX order_backorders_queue_idx ON order_backorders (brand_id, product_id, location_id, order_number, line_id);

ALTER TABLE order_backorders ENABLE ROW LEVEL SECURITY;
ALTER TABLE order_backorders FORCE ROW LEVEL SECURITY;
CREATE POLICY brand_isolation ON order_backorders
  USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
  WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid));
