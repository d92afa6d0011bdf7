DROP POLICY sweeper_due ON reservations;
DROP TABLE idempotency_keys;
DROP TABLE stock_movements;
DROP TYPE movement_kind;
DROP TABLE reservation_allocations;
DROP TABLE reservations;
DROP TYPE reservation_status;
DROP TABLE stock_levels;
DROP TABLE locations;

-- app_role_ensure as 000001 made it (without the ledger's revoke).
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
