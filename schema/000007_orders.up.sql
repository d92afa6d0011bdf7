-- Orders: a per-brand gapless number, lines that snapshot the product at the moment of sale, where
-- each line's stock is held (order_allocations), the events of the state machine, and fulfilments.
--
-- Correct by construction:
-- - numbers come from one counter row per brand, incremented (and so locked) inside the order's
--   transaction: a rolled-back order gives its number back, and numbers are gapless;
-- - a line's fulfilled quantity stays within its quantity, an allocation's within its held quantity;
-- - stock changes only through the ledger (stock_movements), whose order_id now references orders.
-- Lock order (extends 000006's): the order row (FOR UPDATE, transitions), then reservations, then
-- locations FOR SHARE, then levels FOR UPDATE, then the brand's order counter (creation only,
-- always last: nothing is waited for while it is held but the order's own inserts).

CREATE TYPE order_status AS ENUM ('pending', 'confirmed', 'partially_fulfilled', 'fulfilled', 'cancelled');

CREATE TABLE order_counters (
  brand_id    uuid NOT NULL REFERENCES brands (id),
  last_number bigint NOT NULL CHECK (last_number >= 1001),
  PRIMARY KEY (brand_id)
);

CREATE TABLE orders (
  brand_id           uuid NOT NULL REFERENCES brands (id),
  id                 uuid NOT NULL,
  number             bigint NOT NULL CHECK (number >= 1001),
  status             order_status NOT NULL DEFAULT 'pending',
  currency           char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  subtotal           bigint NOT NULL CHECK (subtotal >= 0),
  total              bigint NOT NULL CHECK (total >= 0),
  customer_email     text NOT NULL CHECK (char_length(customer_email) BETWEEN 3 AND 254),
  customer_name      text NOT NULL CHECK (char_length(customer_name) BETWEEN 1 AND 200),
  customer_phone     text CHECK (char_length(customer_phone) <= 40),
  -- {line1, line2, city, region, postalCode, country}, as the API shows it.
  shipping_address   jsonb NOT NULL CHECK (jsonb_typeof(shipping_address) = 'object'),
  note               text CHECK (char_length(note) <= 1000),
  external_reference text CHECK (char_length(external_reference) BETWEEN 1 AND 100),
  reservation_id     uuid,
  payment_reference  text CHECK (char_length(payment_reference) <= 100),
  cancel_reason      text CHECK (char_length(cancel_reason) <= 500),
  created_by         uuid REFERENCES users (id) ON DELETE SET NULL,
  version            bigint NOT NULL DEFAULT 1,
  confirmed_at       timestamptz,
  cancelled_at       timestamptz,
  created_at         timestamptz NOT NULL,
  updated_at         timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT orders_number_key UNIQUE (brand_id, number),
  CONSTRAINT orders_external_reference_key UNIQUE (brand_id, external_reference),
  FOREIGN KEY (brand_id, reservation_id) REFERENCES reservations (brand_id, id),
  CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
);
CREATE INDEX orders_list_idx ON orders (brand_id, id DESC);
CREATE INDEX orders_email_idx ON orders (brand_id, lower(customer_email));
-- The sweeper's work list: pending orders by age.
CREATE INDEX orders_pending_idx ON orders (created_at) WHERE status = 'pending';

CREATE TABLE order_lines (
  brand_id           uuid NOT NULL,
  order_id           uuid NOT NULL,
  id                 uuid NOT NULL,
  line_no            int NOT NULL CHECK (line_no >= 0),
  product_id         uuid NOT NULL,
  -- The product as it was sold: a later rename or price change does not rewrite the order.
  sku                text NOT NULL,
  name               text NOT NULL,
  price_amount       bigint NOT NULL CHECK (price_amount >= 0),
  currency           char(3) NOT NULL,
  quantity           bigint NOT NULL CHECK (quantity BETWEEN 1 AND 100000),
  fulfilled_quantity bigint NOT NULL DEFAULT 0,
  line_total         bigint NOT NULL CHECK (line_total >= 0),
  PRIMARY KEY (brand_id, id),
  CONSTRAINT order_lines_line_no_key UNIQUE (brand_id, order_id, line_no),
  CONSTRAINT order_lines_order_key UNIQUE (brand_id, order_id, id),
  FOREIGN KEY (brand_id, order_id) REFERENCES orders (brand_id, id),
  FOREIGN KEY (brand_id, product_id) REFERENCES products (brand_id, id),
  CHECK (fulfilled_quantity BETWEEN 0 AND quantity)
);

-- Where each line's stock is held: one row per (line, location), like reservation_allocations.
-- fulfilled_quantity of it has shipped; the rest is held until fulfilled or released (cancel).
CREATE TABLE order_allocations (
  brand_id           uuid NOT NULL,
  order_id           uuid NOT NULL,
  line_id            uuid NOT NULL,
  seq                int NOT NULL CHECK (seq >= 0),
  product_id         uuid NOT NULL,
  location_id        uuid NOT NULL,
  quantity           bigint NOT NULL CHECK (quantity > 0),
  fulfilled_quantity bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (brand_id, order_id, line_id, location_id),
  FOREIGN KEY (brand_id, order_id, line_id) REFERENCES order_lines (brand_id, order_id, id),
  FOREIGN KEY (brand_id, product_id, location_id) REFERENCES stock_levels (brand_id, product_id, location_id),
  CHECK (fulfilled_quantity BETWEEN 0 AND quantity)
);
CREATE INDEX order_allocations_level_idx ON order_allocations (brand_id, product_id, location_id);

CREATE TYPE order_action AS ENUM ('create', 'confirm', 'fulfil', 'cancel');

CREATE TABLE order_events (
  brand_id     uuid NOT NULL,
  order_id     uuid NOT NULL,
  id           uuid NOT NULL,
  action       order_action NOT NULL,
  from_status  order_status,
  status       order_status NOT NULL,
  -- null: the system (the pending-order sweeper).
  actor_id     uuid REFERENCES users (id) ON DELETE SET NULL,
  reason       text CHECK (char_length(reason) <= 500),
  request_id   text,
  created_at   timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  FOREIGN KEY (brand_id, order_id) REFERENCES orders (brand_id, id)
);
CREATE INDEX order_events_order_idx ON order_events (brand_id, order_id, id);

CREATE TABLE fulfilments (
  brand_id        uuid NOT NULL,
  order_id        uuid NOT NULL,
  id              uuid NOT NULL,
  carrier         text CHECK (char_length(carrier) <= 100),
  tracking_number text CHECK (char_length(tracking_number) <= 100),
  created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT fulfilments_order_key UNIQUE (brand_id, order_id, id),
  FOREIGN KEY (brand_id, order_id) REFERENCES orders (brand_id, id)
);
CREATE INDEX fulfilments_order_idx ON fulfilments (brand_id, order_id, id DESC);

CREATE TABLE fulfilment_lines (
  brand_id       uuid NOT NULL,
  order_id       uuid NOT NULL,
  fulfilment_id  uuid NOT NULL,
  line_id        uuid NOT NULL,
  quantity       bigint NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (brand_id, fulfilment_id, line_id),
  FOREIGN KEY (brand_id, order_id, fulfilment_id) REFERENCES fulfilments (brand_id, order_id, id),
  FOREIGN KEY (brand_id, order_id, line_id) REFERENCES order_lines (brand_id, order_id, id)
);

-- The ledger's movements name the order they belong to.
ALTER TABLE stock_movements
  ADD CONSTRAINT stock_movements_order_fkey FOREIGN KEY (brand_id, order_id) REFERENCES orders (brand_id, id);
CREATE INDEX stock_movements_order_idx ON stock_movements (brand_id, order_id) WHERE order_id IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['order_counters', 'orders', 'order_lines', 'order_allocations', 'order_events',
                           'fulfilments', 'fulfilment_lines'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY brand_isolation ON %I
      USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
      WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))$p$, t);
  END LOOP;
END
$$;

-- The pending-order sweeper runs outside any brand: it may list pending orders (ids and brands
-- only matter to it) when it says it is the sweeper; it then cancels each inside that brand's scope.
CREATE POLICY sweeper_due ON orders FOR SELECT
  USING (current_setting('app.sweeper', true) = 'on' AND status = 'pending');
