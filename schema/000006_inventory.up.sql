-- Inventory: locations, stock levels, the append-only ledger, reservations, and the stored answers
-- of Idempotency-Key requests.
--
-- Correct by construction:
-- - a level's quantities live in one row, changed only by the statement that also appends the
--   movement (queries/inventory.sql StockMove), so the ledger always sums to the level;
-- - 0 <= reserved <= on_hand is a CHECK constraint: a bug can fail a request, never oversell;
-- - the application role may read and append movements but not change or delete them.
-- Lock order, shared by every writer so that none can deadlock another: reservation rows (by id),
-- then location rows (FOR SHARE, by id), then stock levels (FOR UPDATE, by product, location).

CREATE TABLE locations (
  brand_id    uuid NOT NULL REFERENCES brands (id),
  id          uuid NOT NULL,
  code        text NOT NULL CHECK (code ~ '^[A-Z0-9_-]{1,32}$'),
  name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  -- {line1, line2, city, region, postalCode, country}, as the API shows it.
  address     jsonb CHECK (address IS NULL OR jsonb_typeof(address) = 'object'),
  active      boolean NOT NULL DEFAULT true,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT locations_code_key UNIQUE (brand_id, code)
);
CREATE INDEX locations_list_idx ON locations (brand_id, id);

CREATE TABLE stock_levels (
  brand_id      uuid NOT NULL,
  product_id    uuid NOT NULL,
  location_id   uuid NOT NULL,
  on_hand       bigint NOT NULL DEFAULT 0,
  reserved      bigint NOT NULL DEFAULT 0,
  reorder_point bigint CHECK (reorder_point >= 0),
  version       bigint NOT NULL DEFAULT 1,
  updated_at    timestamptz NOT NULL,
  PRIMARY KEY (brand_id, product_id, location_id),
  FOREIGN KEY (brand_id, product_id) REFERENCES products (brand_id, id),
  FOREIGN KEY (brand_id, location_id) REFERENCES locations (brand_id, id),
  CONSTRAINT stock_levels_quantities CHECK (reserved >= 0 AND reserved <= on_hand)
);
CREATE INDEX stock_levels_location_idx ON stock_levels (brand_id, location_id, product_id);
CREATE INDEX stock_levels_reorder_idx ON stock_levels (brand_id, product_id, location_id)
  WHERE reorder_point IS NOT NULL AND on_hand - reserved < reorder_point;

CREATE TYPE reservation_status AS ENUM ('active', 'released', 'expired', 'consumed');

CREATE TABLE reservations (
  brand_id    uuid NOT NULL REFERENCES brands (id),
  id          uuid NOT NULL,
  status      reservation_status NOT NULL DEFAULT 'active',
  reference   text CHECK (char_length(reference) <= 100),
  expires_at  timestamptz NOT NULL,
  created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  -- When it stopped being active (released, expired or consumed).
  ended_at    timestamptz,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CHECK ((status = 'active') = (ended_at IS NULL))
);
CREATE INDEX reservations_list_idx ON reservations (brand_id, id DESC);
-- The sweeper's work list: active holds by expiry.
CREATE INDEX reservations_expiry_idx ON reservations (expires_at) WHERE status = 'active';

-- What a reservation holds where: one row per (line, location). A line's quantity is the sum of its
-- allocations (never stored twice).
CREATE TABLE reservation_allocations (
  brand_id       uuid NOT NULL,
  reservation_id uuid NOT NULL,
  line_no        int NOT NULL CHECK (line_no >= 0),
  product_id     uuid NOT NULL,
  location_id    uuid NOT NULL,
  quantity       bigint NOT NULL CHECK (quantity > 0),
  PRIMARY KEY (brand_id, reservation_id, line_no, location_id),
  FOREIGN KEY (brand_id, reservation_id) REFERENCES reservations (brand_id, id),
  FOREIGN KEY (brand_id, product_id, location_id) REFERENCES stock_levels (brand_id, product_id, location_id)
);
CREATE INDEX reservation_allocations_level_idx ON reservation_allocations (brand_id, product_id, location_id);

CREATE TYPE movement_kind AS ENUM ('receipt', 'adjustment', 'count', 'return', 'transfer_out',
  'transfer_in', 'reservation', 'release', 'fulfilment');

CREATE TABLE stock_movements (
  brand_id        uuid NOT NULL,
  id              uuid NOT NULL,
  product_id      uuid NOT NULL,
  location_id     uuid NOT NULL,
  kind            movement_kind NOT NULL,
  on_hand_delta   bigint NOT NULL,
  reserved_delta  bigint NOT NULL,
  -- The level's quantities right after this movement.
  on_hand_after   bigint NOT NULL,
  reserved_after  bigint NOT NULL,
  reason          text CHECK (char_length(reason) <= 500),
  reference       text CHECK (char_length(reference) <= 100),
  reservation_id  uuid,
  order_id        uuid,
  actor_id        uuid REFERENCES users (id) ON DELETE SET NULL,
  request_id      text,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  FOREIGN KEY (brand_id, product_id, location_id) REFERENCES stock_levels (brand_id, product_id, location_id),
  FOREIGN KEY (brand_id, reservation_id) REFERENCES reservations (brand_id, id),
  CHECK (on_hand_delta <> 0 OR reserved_delta <> 0)
);
CREATE INDEX stock_movements_list_idx ON stock_movements (brand_id, id DESC);
CREATE INDEX stock_movements_level_idx ON stock_movements (brand_id, product_id, location_id, id DESC);
CREATE INDEX stock_movements_reservation_idx ON stock_movements (brand_id, reservation_id) WHERE reservation_id IS NOT NULL;
CREATE INDEX stock_movements_reference_idx ON stock_movements (brand_id, reference, id DESC) WHERE reference IS NOT NULL;

-- Idempotency-Key (draft-ietf-httpapi-idempotency-key-header-07): the first answer to a key,
-- stored in the transaction of the operation's effects. Scoped to the caller and the operation;
-- not brand data (the brand is part of the request's fingerprint).
CREATE TABLE idempotency_keys (
  user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  operation    text NOT NULL,
  key          text NOT NULL,
  fingerprint  bytea NOT NULL,
  status       int NOT NULL,
  headers      jsonb NOT NULL,
  body         bytea NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (user_id, operation, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['locations', 'stock_levels', 'reservations', 'reservation_allocations', 'stock_movements'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format($p$CREATE POLICY brand_isolation ON %I
      USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
      WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))$p$, t);
  END LOOP;
END
$$;

-- The ledger is append-only for the application: app_role_ensure grants every table, then takes
-- UPDATE and DELETE on stock_movements back.
CREATE OR REPLACE FUNCTION app_role_ensure(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another migration created it between the check and the CREATE
    END;
  END IF;
  IF NOT pg_has_role(current_user, role_name, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', role_name, current_user);
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', role_name);
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', role_name);
  EXECUTE format('REVOKE ALL ON TABLE schema_migrations FROM %I', role_name);
  EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON TABLE stock_movements FROM %I', role_name);
END
$$;

-- The reservation sweeper runs outside any brand: it may list active holds (ids and brands only
-- matter to it) when it says it is the sweeper; it then releases each inside that brand's scope.
CREATE POLICY sweeper_due ON reservations FOR SELECT
  USING (current_setting('app.sweeper', true) = 'on' AND status = 'active');
