-- Purchasing (issue 22): suppliers, purchase orders with a gapless number per brand, stock on its
-- way (incoming), receipts that carry a unit cost, each product's moving average cost, reorder
-- quantities.
--
-- Correct by construction:
-- - a purchase order's number comes from one counter row per brand, taken inside the PO's
--   transaction (like orders: a rolled-back PO gives its number back);
-- - a line's received quantity never goes below zero; it may pass the ordered quantity only when a
--   receipt says allowOverReceipt (checked by the handler on the locked PO);
-- - stock_levels.incoming is what ordered, not yet received quantities of open POs bring to the
--   level; only the stock engine writes it (server/inventory, in the PO's transaction), and
--   IncomingMismatches (queries/stock/invariants.sql) proves it equals the open POs' remainders;
-- - the ledger stays the only record of stock on hand: a receipt of a PO is a `receipt` movement
--   naming the PO with its unit cost; a movement that takes stock away records the product's
--   average cost at that moment (cost of goods sold is a sum over the ledger).
-- Lock order (extends 000007's): the purchase order row (FOR UPDATE), then locations FOR SHARE,
-- then levels FOR UPDATE, then product_costs rows (by product), then the brand's PO counter
-- (creation only, last).

CREATE TABLE suppliers (
  brand_id        uuid NOT NULL REFERENCES brands (id),
  id              uuid NOT NULL,
  code            text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{1,32}$'),
  name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  email           text CHECK (char_length(email) BETWEEN 3 AND 254),
  currency        char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  lead_time_days  int CHECK (lead_time_days BETWEEN 0 AND 3650),
  -- A supplier named by a purchase order is archived rather than deleted.
  archived_at     timestamptz,
  version         bigint NOT NULL DEFAULT 1,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT suppliers_code_key UNIQUE (brand_id, code)
);

CREATE TYPE purchase_order_status AS ENUM ('draft', 'ordered', 'partially_received', 'received', 'cancelled', 'closed');

CREATE TABLE purchase_order_counters (
  brand_id    uuid NOT NULL REFERENCES brands (id),
  last_number bigint NOT NULL CHECK (last_number >= 1001),
  PRIMARY KEY (brand_id)
);

CREATE TABLE purchase_orders (
  brand_id      uuid NOT NULL REFERENCES brands (id),
  id            uuid NOT NULL,
  number        bigint NOT NULL CHECK (number >= 1001),
  supplier_id   uuid NOT NULL,
  location_id   uuid NOT NULL,
  status        purchase_order_status NOT NULL DEFAULT 'draft',
  currency      char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  expected_on   date,
  notes         text CHECK (char_length(notes) <= 2000),
  created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
  version       bigint NOT NULL DEFAULT 1,
  ordered_at    timestamptz,
  ended_at      timestamptz,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT purchase_orders_number_key UNIQUE (brand_id, number),
  FOREIGN KEY (brand_id, supplier_id) REFERENCES suppliers (brand_id, id),
  FOREIGN KEY (brand_id, location_id) REFERENCES locations (brand_id, id)
);
CREATE INDEX purchase_orders_list_idx ON purchase_orders (brand_id, id DESC);
CREATE INDEX purchase_orders_supplier_idx ON purchase_orders (brand_id, supplier_id);

CREATE TABLE purchase_order_lines (
  brand_id          uuid NOT NULL,
  purchase_order_id uuid NOT NULL,
  id                uuid NOT NULL,
  line_no           int NOT NULL CHECK (line_no >= 0),
  product_id        uuid NOT NULL,
  quantity          bigint NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000),
  unit_cost         bigint NOT NULL CHECK (unit_cost BETWEEN 0 AND 1000000000000),
  received_quantity bigint NOT NULL DEFAULT 0 CHECK (received_quantity >= 0),
  PRIMARY KEY (brand_id, id),
  CONSTRAINT purchase_order_lines_line_no_key UNIQUE (brand_id, purchase_order_id, line_no),
  CONSTRAINT purchase_order_lines_product_key UNIQUE (brand_id, purchase_order_id, product_id),
  FOREIGN KEY (brand_id, purchase_order_id) REFERENCES purchase_orders (brand_id, id),
  FOREIGN KEY (brand_id, product_id) REFERENCES products (brand_id, id)
);
-- A product's last supplier and cost (reorder suggestions).
CREATE INDEX purchase_order_lines_product_idx ON purchase_order_lines (brand_id, product_id);

-- Each product's moving average unit cost, in the product's currency, in minor units; written only
-- by the stock engine, in the transaction of the receipt that changes it.
CREATE TABLE product_costs (
  brand_id     uuid NOT NULL,
  product_id   uuid NOT NULL,
  average_cost bigint CHECK (average_cost >= 0),
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (brand_id, product_id),
  FOREIGN KEY (brand_id, product_id) REFERENCES products (brand_id, id) ON DELETE CASCADE
);

ALTER TABLE stock_levels
  ADD COLUMN incoming bigint NOT NULL DEFAULT 0,
  ADD COLUMN reorder_quantity bigint CHECK (reorder_quantity >= 1),
  ADD CONSTRAINT stock_levels_incoming CHECK (incoming >= 0 AND incoming <= 1000000000000);

-- unit_cost: what one unit cost (receipts) or was worth at the product's average (movements taking
-- stock away). average_cost: the product's average after a costed receipt (valuation asOf reads it).
ALTER TABLE stock_movements
  ADD COLUMN unit_cost bigint CHECK (unit_cost >= 0),
  ADD COLUMN average_cost bigint CHECK (average_cost >= 0),
  ADD COLUMN purchase_order_id uuid,
  ADD CONSTRAINT stock_movements_purchase_order_fkey FOREIGN KEY (brand_id, purchase_order_id) REFERENCES purchase_orders (brand_id, id);
CREATE INDEX stock_movements_purchase_order_idx ON stock_movements (brand_id, purchase_order_id, id DESC) WHERE purchase_order_id IS NOT NULL;
-- Valuation asOf: the product's average cost at a time.
CREATE INDEX stock_movements_cost_idx ON stock_movements (brand_id, product_id, id DESC) WHERE average_cost IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['suppliers', 'purchase_order_counters', 'purchase_orders', 'purchase_order_lines', 'product_costs'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY brand_isolation ON %I
      USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
      WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))$p$, t);
  END LOOP;
END
$$;
