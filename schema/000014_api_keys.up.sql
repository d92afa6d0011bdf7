-- Brand API keys (issue 19): an integration calls the brand's routes without a person's password.
--
-- A key is `ecp_live_` + base64url(32 random bytes). Only its SHA-256 is stored (secret_hash), as
-- for refresh tokens: 256 random bits cannot be guessed from a digest, so a slow or keyed hash
-- would add nothing but a secret whose rotation would kill every key. The digest is also how a
-- request finds its key: a unique index, no scan, and an attacker cannot steer which digest a
-- forged key looks up. hint is the key's first characters, for people to tell keys apart.
--
-- Not under row-level security, like sessions: a request finds its key by digest before any
-- brand is known. Every brand-scoped statement on it filters by brand_id.
CREATE TABLE api_keys (
  id           uuid PRIMARY KEY,
  brand_id     uuid NOT NULL REFERENCES brands (id),
  name         text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
  secret_hash  bytea NOT NULL CONSTRAINT api_keys_secret_hash_key UNIQUE CHECK (octet_length(secret_hash) = 32),
  hint         text NOT NULL,
  -- What the key may do, each a brand permission its creator held when it was made; a request
  -- gets only those its creator's role still grants.
  permissions  text[] NOT NULL,
  -- The user the key acts for: what it writes is attributed to them (created_by columns), and it
  -- stops working when they are disabled or leave the brand.
  created_by   uuid NOT NULL REFERENCES users (id),
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz,
  -- Updated at most once a minute per key (server/identity), not on every request.
  last_used_at timestamptz,
  revoked_at   timestamptz
);
-- The brand's keys, newest first (UUIDv7 ids).
CREATE INDEX api_keys_brand_idx ON api_keys (brand_id, id DESC);

-- The session cache (server/sessioncache) holds live keys too, under the first 16 bytes of their
-- digest: every change that can refuse a key is announced, as 'k' and those bytes in hex, in the
-- changing transaction (schema/000008 explains the channel). A change of last_used_at alone, the
-- only frequent one, announces nothing; any other column, present or added later, does.
CREATE FUNCTION auth_notify_api_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ecompointer_auth', 'k' || encode(substring(OLD.secret_hash FROM 1 FOR 16), 'hex'));
  RETURN NULL;
END
$$;

CREATE TRIGGER api_keys_auth_notify AFTER UPDATE ON api_keys
  FOR EACH ROW
  WHEN ((to_jsonb(OLD.*) - 'last_used_at') IS DISTINCT FROM (to_jsonb(NEW.*) - 'last_used_at'))
  EXECUTE FUNCTION auth_notify_api_key();

CREATE TRIGGER api_keys_auth_notify_delete AFTER DELETE ON api_keys
  FOR EACH ROW EXECUTE FUNCTION auth_notify_api_key();

-- TRUNCATE deletes no row one by one: forget everything (schema/000009).
CREATE TRIGGER api_keys_auth_notify_truncate AFTER TRUNCATE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION auth_notify_all();

-- The audit log names a key: the one that acted (actor_api_key_id, with actor_id the user it acts
-- for), and the one an event is about (api_key_id: created, revoked). Keys are revoked, never
-- deleted, so both stay readable.
ALTER TABLE audit_events
  ADD COLUMN actor_api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL,
  ADD COLUMN api_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
