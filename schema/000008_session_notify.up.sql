-- Live revocation without a query per request (issue 13): every change that can end a session or
-- change what the per-request check reads about its user is announced on the channel
-- `ecompointer_auth`, by a trigger, so no code path can forget to. NOTIFY is transactional: a
-- change that rolls back announces nothing, and one that commits is announced at its commit. Each
-- server keeps a cache of sessions and users (server/sessioncache) and drops what it is told of.
--
-- Payloads are small: 's' or 'u' and the row's id ('s0191...'). Each trigger fires only when a
-- column the check reads changed (its WHEN clause is evaluated without calling the function), so
-- the ordinary traffic that touches these tables (last_used_at, a refresh that only extends the
-- session) announces nothing.

CREATE FUNCTION auth_notify_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ecompointer_auth', 's' || OLD.id::text);
  RETURN NULL;
END
$$;

CREATE FUNCTION auth_notify_user() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('ecompointer_auth', 'u' || OLD.id::text);
  RETURN NULL;
END
$$;

-- A session ends (revoked_at), moves to another user (never done, but then it must not be
-- trusted), or its expiry comes sooner. An expiry pushed later (every refresh) needs no word: a
-- cached copy that says expired is asked of the database again, never refused on its own.
CREATE TRIGGER sessions_auth_notify AFTER UPDATE ON sessions
  FOR EACH ROW
  WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at
        OR OLD.user_id IS DISTINCT FROM NEW.user_id
        OR OLD.id IS DISTINCT FROM NEW.id
        OR NEW.expires_at < OLD.expires_at)
  EXECUTE FUNCTION auth_notify_session();

CREATE TRIGGER sessions_auth_notify_delete AFTER DELETE ON sessions
  FOR EACH ROW EXECUTE FUNCTION auth_notify_session();

-- Any change of a user row: token_version, disabled, role, brand_id, removed_at, the password hash
-- and the profile fields are all read from the cached row. Users change rarely; comparing whole
-- rows means a column added later is covered without touching this trigger.
CREATE TRIGGER users_auth_notify AFTER UPDATE ON users
  FOR EACH ROW
  WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION auth_notify_user();

CREATE TRIGGER users_auth_notify_delete AFTER DELETE ON users
  FOR EACH ROW EXECUTE FUNCTION auth_notify_user();
