-- Back to 000027: the search view over products, owned by the search role that
-- product_search_ensure (000021's, restored here) makes at the next `ecompointer migrate up`.
DROP VIEW product_search;
CREATE VIEW product_search AS
SELECT id AS search_id, name AS search_name, sku AS search_sku
FROM products
WHERE brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid);

-- Makes the search role, gives it the view and the policy that lets it read products. Called by
-- `ecompointer migrate up`/`serve` after app_role_ensure (roles are cluster-wide and the name
-- follows DATABASE_APP_ROLE); idempotent and safe when several databases of one cluster migrate
-- at once (tests do). Needs only CREATEROLE and ownership of the tables.
CREATE OR REPLACE FUNCTION product_search_ensure(app_role text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  search_role text := app_role || '_search';
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = search_role) THEN
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', search_role);
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL; -- another migration created it between the check and the CREATE
    END;
  END IF;
  EXECUTE format('GRANT SELECT ON TABLE products TO %I', search_role);
  IF NOT EXISTS (SELECT 1 FROM pg_policies
                 WHERE schemaname = current_schema() AND tablename = 'products'
                   AND policyname = 'product_search_reads' AND search_role = ANY(roles)) THEN
    EXECUTE 'DROP POLICY IF EXISTS product_search_reads ON products';
    EXECUTE format('CREATE POLICY product_search_reads ON products FOR SELECT TO %I USING (true)', search_role);
  END IF;
  IF (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'product_search'::regclass) = search_role
     AND has_table_privilege(app_role, 'product_search', 'SELECT')
     AND NOT has_table_privilege(app_role, 'product_search', 'INSERT, UPDATE, DELETE, TRUNCATE') THEN
    RETURN; -- set up already: the usual case at every start
  END IF;
  -- Giving the view to the search role, and granting on it afterwards, need membership of that
  -- role. The migrating login holds it only for these statements: a member would match the
  -- policy above and see every brand's products, and the table owner stays under the brands'
  -- policies like everyone else (TestRowLevelSecurity). Membership is cluster-wide and other
  -- databases of the cluster (tests) may take and drop it at the same moment: a statement that
  -- lost it meanwhile is tried again.
  FOR attempt IN 1..50 LOOP
    BEGIN
      IF NOT pg_has_role(current_user, search_role, 'MEMBER') THEN
        EXECUTE format('GRANT %I TO %I', search_role, current_user);
      END IF;
      IF (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = 'product_search'::regclass) <> search_role THEN
        -- A new owner must be allowed to create in the schema; the right is only needed for the
        -- change of owner, and taken back at once.
        EXECUTE format('GRANT CREATE ON SCHEMA %I TO %I', current_schema(), search_role);
        EXECUTE format('ALTER VIEW product_search OWNER TO %I', search_role);
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM %I', current_schema(), search_role);
      END IF;
      -- app_role_ensure grants every table, views included; the search is read-only.
      EXECUTE format('GRANT SELECT ON TABLE product_search TO %I', app_role);
      EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE product_search FROM %I', app_role);
      EXIT;
    EXCEPTION WHEN OTHERS THEN
      IF attempt = 50 THEN
        RAISE;
      END IF;
      PERFORM pg_sleep(0.01 * attempt);
    END;
  END LOOP;
  IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    BEGIN
      EXECUTE format('REVOKE %I FROM %I', search_role, current_user);
    EXCEPTION WHEN OTHERS THEN
      NULL; -- another database's migration dropped it first
    END;
  END IF;
END
$$;

-- app_role_ensure as 000006 made it.
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

DROP TRIGGER product_search_terms_added ON products;
DROP TRIGGER product_search_terms_changed ON products;
DROP FUNCTION product_search_terms_added();
DROP FUNCTION product_search_terms_changed();
DROP TABLE product_search_terms;
CREATE INDEX products_name_trgm_idx ON products USING gin (name gin_trgm_ops);
CREATE INDEX products_sku_trgm_idx ON products USING gin (sku gin_trgm_ops);
ALTER TABLE products ALTER COLUMN name SET STATISTICS 400;
ANALYZE products;
