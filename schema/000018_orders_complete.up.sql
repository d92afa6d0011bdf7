-- Orders as shops send them (issue 21): amounts (shipping, discounts, tax lines and the stored
-- totals), cancelled and returned quantities, customers, returns and refunds.
--
-- Correct by construction:
-- - a line's fulfilled and cancelled quantities stay within its quantity, its returned quantity
--   within what shipped (returns are checked under the order's row lock; this is the last line);
-- - an order's refunded total never passes its total (refunds likewise, under the order's lock);
-- - a customer's email is stored lowercased and unique per brand; an order that names a customer
--   keeps it from being deleted (anonymise it instead: the order keeps its own snapshot).
-- Lock order: unchanged (the order row first). A return's restock moves stock through the engine
-- (a `return` movement naming the order) after the order and the return are locked.

-- New values are not used in this migration (PostgreSQL refuses that in the adding transaction).
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'partially_returned';
ALTER TYPE order_status ADD VALUE IF NOT EXISTS 'returned';
-- The order's history records a status change a return made.
ALTER TYPE order_action ADD VALUE IF NOT EXISTS 'return';

CREATE TABLE customers (
  brand_id      uuid NOT NULL REFERENCES brands (id),
  id            uuid NOT NULL,
  email         text NOT NULL CHECK (char_length(email) BETWEEN 3 AND 254 AND email = lower(email)),
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  phone         text CHECK (char_length(phone) <= 40),
  -- [{line1, line2, city, region, postalCode, country}], as the API shows them.
  addresses     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(addresses) = 'array'),
  anonymized_at timestamptz,
  version       bigint NOT NULL DEFAULT 1,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT customers_email_key UNIQUE (brand_id, email)
);
CREATE INDEX customers_list_idx ON customers (brand_id, id DESC);

ALTER TABLE orders
  ADD COLUMN customer_id     uuid,
  ADD COLUMN shipping_amount bigint NOT NULL DEFAULT 0 CHECK (shipping_amount >= 0),
  ADD COLUMN shipping_method text CHECK (char_length(shipping_method) BETWEEN 1 AND 100),
  -- The order-level discounts and tax lines as the client stated them (line ones are on lines).
  ADD COLUMN discounts       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(discounts) = 'array'),
  ADD COLUMN tax_lines       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tax_lines) = 'array'),
  -- Totals over the order and its lines; total = subtotal - discount_total + shipping_amount + tax_total.
  ADD COLUMN discount_total  bigint NOT NULL DEFAULT 0 CHECK (discount_total BETWEEN 0 AND subtotal),
  ADD COLUMN tax_total       bigint NOT NULL DEFAULT 0 CHECK (tax_total >= 0),
  ADD COLUMN cancelled_total bigint NOT NULL DEFAULT 0 CHECK (cancelled_total >= 0),
  ADD COLUMN refunded_total  bigint NOT NULL DEFAULT 0,
  ADD CONSTRAINT orders_refunded_within_total CHECK (refunded_total BETWEEN 0 AND total),
  ADD CONSTRAINT orders_customer_fkey FOREIGN KEY (brand_id, customer_id) REFERENCES customers (brand_id, id);
CREATE INDEX orders_customer_idx ON orders (brand_id, customer_id, id DESC) WHERE customer_id IS NOT NULL;

ALTER TABLE order_lines
  ADD COLUMN discounts          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(discounts) = 'array'),
  ADD COLUMN tax_lines          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(tax_lines) = 'array'),
  ADD COLUMN discount_total     bigint NOT NULL DEFAULT 0,
  ADD COLUMN tax_total          bigint NOT NULL DEFAULT 0 CHECK (tax_total >= 0),
  ADD COLUMN cancelled_quantity bigint NOT NULL DEFAULT 0 CHECK (cancelled_quantity >= 0),
  ADD COLUMN returned_quantity  bigint NOT NULL DEFAULT 0,
  ADD CONSTRAINT order_lines_discount_within_total CHECK (discount_total BETWEEN 0 AND line_total),
  ADD CONSTRAINT order_lines_settled_within_quantity CHECK (fulfilled_quantity + cancelled_quantity <= quantity),
  ADD CONSTRAINT order_lines_returned_within_fulfilled CHECK (returned_quantity BETWEEN 0 AND fulfilled_quantity);

CREATE TYPE return_status AS ENUM ('requested', 'received', 'closed', 'cancelled');
CREATE TYPE return_reason AS ENUM ('damaged', 'wrong_item', 'not_as_described', 'changed_mind', 'other');
CREATE TYPE return_disposition AS ENUM ('restock', 'write_off');

CREATE TABLE returns (
  brand_id     uuid NOT NULL,
  id           uuid NOT NULL,
  order_id     uuid NOT NULL,
  status       return_status NOT NULL DEFAULT 'requested',
  note         text CHECK (char_length(note) <= 1000),
  created_by   uuid REFERENCES users (id) ON DELETE SET NULL,
  version      bigint NOT NULL DEFAULT 1,
  received_at  timestamptz,
  closed_at    timestamptz,
  cancelled_at timestamptz,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT returns_order_key UNIQUE (brand_id, order_id, id),
  FOREIGN KEY (brand_id, order_id) REFERENCES orders (brand_id, id)
);
CREATE INDEX returns_list_idx ON returns (brand_id, id DESC);
CREATE INDEX returns_status_idx ON returns (brand_id, status, id DESC);
CREATE INDEX returns_order_idx ON returns (brand_id, order_id, id DESC);

CREATE TABLE return_lines (
  brand_id         uuid NOT NULL,
  order_id         uuid NOT NULL,
  return_id        uuid NOT NULL,
  line_id          uuid NOT NULL,
  line_no          int NOT NULL CHECK (line_no >= 0),
  quantity         bigint NOT NULL CHECK (quantity > 0),
  reason           return_reason NOT NULL,
  -- Set when the return is received: back to stock at location_id, or written off.
  disposition      return_disposition,
  location_id      uuid,
  write_off_reason text CHECK (char_length(write_off_reason) <= 500),
  PRIMARY KEY (brand_id, return_id, line_id),
  FOREIGN KEY (brand_id, order_id, return_id) REFERENCES returns (brand_id, order_id, id),
  FOREIGN KEY (brand_id, order_id, line_id) REFERENCES order_lines (brand_id, order_id, id),
  FOREIGN KEY (brand_id, location_id) REFERENCES locations (brand_id, id),
  CHECK ((disposition = 'restock') = (location_id IS NOT NULL))
);

CREATE TABLE refunds (
  brand_id   uuid NOT NULL,
  id         uuid NOT NULL,
  order_id   uuid NOT NULL,
  amount     bigint NOT NULL CHECK (amount > 0),
  currency   char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  reason     text CHECK (char_length(reason) <= 500),
  shipping   boolean NOT NULL DEFAULT false,
  -- [{lineId, quantity}]: the lines the refund covers, as the client stated them.
  lines      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(lines) = 'array'),
  created_by uuid REFERENCES users (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  FOREIGN KEY (brand_id, order_id) REFERENCES orders (brand_id, id)
);
CREATE INDEX refunds_order_idx ON refunds (brand_id, order_id, id DESC);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['customers', 'returns', 'return_lines', 'refunds'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY brand_isolation ON %I
      USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
      WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))$p$, t);
  END LOOP;
END
$$;
