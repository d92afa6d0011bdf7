-- Accounts, brands (tenants), sessions and the audit trail.
CREATE EXTENSION IF NOT EXISTS citext;

CREATE TABLE brands (
  id         uuid PRIMARY KEY,
  name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  slug       text NOT NULL CONSTRAINT brands_slug_key UNIQUE CHECK (slug ~ '^[a-z0-9]+(-[a-z0-9]+)*$'),
  currency   char(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
  version    bigint NOT NULL DEFAULT 1,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);

CREATE TYPE user_role AS ENUM ('ADMIN', 'BRAND_OWNER', 'MANAGER', 'STAFF');

CREATE TABLE users (
  id            uuid PRIMARY KEY,
  -- Stored lowercased by the server; citext makes the uniqueness case-insensitive regardless.
  email         citext NOT NULL CONSTRAINT users_email_key UNIQUE,
  name          text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  password_hash text NOT NULL,
  role          user_role NOT NULL,
  brand_id      uuid REFERENCES brands (id),
  disabled      boolean NOT NULL DEFAULT false,
  -- Every token carries it; bumping it kills every token of the user at once.
  token_version integer NOT NULL DEFAULT 1,
  -- Consecutive failed logins and the throttle they impose (kept here so that every instance
  -- of the server sees the same count).
  failed_logins integer NOT NULL DEFAULT 0,
  locked_until  timestamptz,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  -- Every user but an ADMIN belongs to exactly one brand.
  CONSTRAINT users_brand_role CHECK ((role = 'ADMIN') = (brand_id IS NULL))
);
CREATE INDEX users_brand_idx ON users (brand_id, id);

CREATE TABLE sessions (
  id                  uuid PRIMARY KEY,
  user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- SHA-256 of the current refresh token and of the one it replaced; the tokens are never stored.
  refresh_hash        bytea NOT NULL,
  previous_hash       bytea,
  -- Rotation counter: the refresh token of generation N is replaced by N+1.
  generation          integer NOT NULL DEFAULT 1,
  created_at          timestamptz NOT NULL,
  last_used_at        timestamptz NOT NULL,
  rotated_at          timestamptz NOT NULL,
  -- When the current refresh token expires; never past absolute_expires_at.
  expires_at          timestamptz NOT NULL,
  absolute_expires_at timestamptz NOT NULL,
  revoked_at          timestamptz,
  revoked_reason      text,
  user_agent          text,
  ip                  text,
  CHECK (expires_at <= absolute_expires_at)
);
-- The live sessions of a user, most recently used first (list, eviction).
CREATE INDEX sessions_user_live_idx ON sessions (user_id, last_used_at DESC) WHERE revoked_at IS NULL;
-- Pruning of dead sessions.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE audit_events (
  -- UUIDv7: time-ordered, so the id alone is the keyset for "newest first".
  id         uuid PRIMARY KEY,
  type       text NOT NULL,
  user_id    uuid REFERENCES users (id) ON DELETE SET NULL,
  session_id uuid,
  ip         text,
  user_agent text,
  created_at timestamptz NOT NULL
);
CREATE INDEX audit_events_user_idx ON audit_events (user_id, id DESC);
CREATE INDEX audit_events_type_idx ON audit_events (type, id DESC);
