-- The application role: request statements run under it (the pool sets `role` at connect), so
-- row-level security applies even when DATABASE_URL logs in as a superuser or the tables' owner.
-- Roles are cluster-wide and the name is configurable (DATABASE_APP_ROLE), so the role is made by
-- this function, which `ecompointer migrate up` and `serve` call after the migrations; it is
-- idempotent and safe when several databases of one cluster migrate at once (tests do).
CREATE FUNCTION app_role_ensure(role_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', role_name);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another migration created it between the check and the CREATE
    END;
  END IF;
  -- The login that runs the server switches to the role, so it must be a member of it.
  IF NOT pg_has_role(current_user, role_name, 'MEMBER') THEN
    EXECUTE format('GRANT %I TO %I', role_name, current_user);
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', role_name);
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %I', role_name);
  EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %I', role_name);
  -- The migration bookkeeping is not the application's business.
  EXECUTE format('REVOKE ALL ON TABLE schema_migrations FROM %I', role_name);
END
$$;
