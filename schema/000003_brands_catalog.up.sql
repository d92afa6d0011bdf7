-- Brand-scoped data (invitations, products) and the row-level security that isolates tenants.
--
-- Every brand-scoped table has brand_id, a composite key (brand_id, id) and composite foreign keys,
-- so it can be distributed by brand_id (Citus) without change. Each is under FORCE ROW LEVEL
-- SECURITY: a row is visible only inside a transaction that set app.brand_id to its brand
-- (set_config('app.brand_id', ..., true)), whoever the login is, the tables' owner included.
-- With no brand set, nullif(...) gives NULL and no row matches.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- A member removed from a brand is disabled and leaves its member list; the row stays (audit).
ALTER TABLE users ADD COLUMN removed_at timestamptz;

CREATE TABLE invitations (
  brand_id    uuid NOT NULL REFERENCES brands (id),
  id          uuid NOT NULL,
  email       citext NOT NULL,
  role        user_role NOT NULL CHECK (role IN ('MANAGER', 'STAFF')),
  -- SHA-256 of the one-time token; the token itself is never stored.
  token_hash  bytea NOT NULL,
  invited_by  uuid REFERENCES users (id) ON DELETE SET NULL,
  expires_at  timestamptz NOT NULL,
  accepted_at timestamptz,
  accepted_by uuid REFERENCES users (id) ON DELETE SET NULL,
  revoked_at  timestamptz,
  created_at  timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id)
);
-- At most one pending invitation per email and brand.
CREATE UNIQUE INDEX invitations_pending_email_idx ON invitations (brand_id, email)
  WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_list_idx ON invitations (brand_id, id DESC);

CREATE TYPE product_status AS ENUM ('draft', 'active', 'archived');

CREATE TABLE products (
  brand_id     uuid NOT NULL REFERENCES brands (id),
  id           uuid NOT NULL,
  sku          text NOT NULL CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
  name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
  description  text CHECK (char_length(description) <= 5000),
  -- Money in minor units of currency: never a float.
  price_amount bigint NOT NULL CHECK (price_amount >= 0),
  currency     char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  status       product_status NOT NULL DEFAULT 'draft',
  attributes   jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(attributes) = 'object'),
  tags         text[] NOT NULL DEFAULT '{}',
  version      bigint NOT NULL DEFAULT 1,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL,
  PRIMARY KEY (brand_id, id),
  CONSTRAINT products_sku_key UNIQUE (brand_id, sku)
);
-- The list's two orders, each a keyset.
CREATE INDEX products_created_idx ON products (brand_id, created_at DESC, id DESC);
CREATE INDEX products_name_idx ON products (brand_id, name, id);
CREATE INDEX products_tags_idx ON products USING gin (tags);
-- `q`: case-insensitive substring search of name and SKU, fast at 100k products per brand.
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);
CREATE INDEX products_sku_trgm_idx ON products USING gin (sku gin_trgm_ops);

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY brand_isolation ON invitations
  USING (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid)
  WITH CHECK (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid);

ALTER TABLE products ENABLE ROW LEVEL SECURITY;
ALTER TABLE products FORCE ROW LEVEL SECURITY;
CREATE POLICY brand_isolation ON products
  USING (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid)
  WITH CHECK (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid);
