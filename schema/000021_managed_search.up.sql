-- Product search under row-level security without a superuser (managed PostgreSQL: RDS, Cloud SQL,
-- Azure grant no superuser and no LEAKPROOF).
--
-- Under row-level security PostgreSQL evaluates only LEAKPROOF operators inside an index scan
-- before the policy has filtered the row, and ILIKE is not leakproof, so `q` could not use the
-- trigram indexes. 000004 marked ILIKE leakproof, which only a superuser may do. Instead, the
-- search reads one view, product_search, owned by a NOLOGIN role (`<app role>_search`, made by
-- product_search_ensure below) that a SELECT-only policy lets read every product row. The view
-- itself restricts to the brand the transaction is scoped to (the same app.brand_id the policies
-- read), with no row-level security on its scan, so ILIKE becomes an index condition again.
--
-- Row-level security stays the guarantee: ProductList reads `products` under its policy and takes
-- only ids from the view (`id IN (SELECT search_id FROM product_search WHERE ...)`), so a row of another
-- brand could never be returned even if the view's predicate were wrong. The view is not a
-- security barrier on purpose (a barrier would keep ILIKE out of its scan again): the only
-- conditions pushed into it are the queries' own, and ILIKE raises no error that depends on a
-- row, so it cannot disclose what it reads. The search role is NOLOGIN and granted only to the
-- login that migrates, which owns the tables and could switch row-level security off anyway: no
-- one gains a right they did not have.
-- Its columns are named apart from the products' so that a query may read both without qualifying
-- every column (sqlc resolves a subquery's names against the outer query too).
CREATE VIEW product_search AS
SELECT id AS search_id, name AS search_name, sku AS search_sku
FROM products
WHERE brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid);

-- Makes the search role, gives it the view and the policy that lets it read products. Called by
-- `ecompointer migrate up`/`serve` after app_role_ensure (roles are cluster-wide and the name
-- follows DATABASE_APP_ROLE); idempotent and safe when several databases of one cluster migrate
-- at once (tests do). Needs only CREATEROLE and ownership of the tables.
CREATE FUNCTION product_search_ensure(app_role text) RETURNS void
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

-- Past one database (docs/citus.md): brand_id leads the primary key of every brand-scoped table and
-- is in every foreign key between two of them and in every unique constraint, so that a table can
-- be distributed by brand_id (Citus) and each brand's rows, and their constraints, live on one node.
-- The events and webhook tables (000015, 000016) keyed on their id alone; TestSchemaIsDistributable
-- (schema/) now holds every table to it.
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_event_id_key;

ALTER TABLE events DROP CONSTRAINT events_pkey, ADD PRIMARY KEY (brand_id, id);
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, ADD PRIMARY KEY (brand_id, id);
DROP INDEX webhook_endpoints_brand_idx; -- the primary key now
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD PRIMARY KEY (brand_id, id);
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey, ADD PRIMARY KEY (brand_id, id);

ALTER TABLE webhook_deliveries
  ADD CONSTRAINT webhook_deliveries_endpoint_event_key UNIQUE (brand_id, endpoint_id, event_id),
  ADD CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (brand_id, endpoint_id)
    REFERENCES webhook_endpoints (brand_id, id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts
  ADD CONSTRAINT webhook_attempts_delivery_fkey FOREIGN KEY (brand_id, delivery_id)
    REFERENCES webhook_deliveries (brand_id, id) ON DELETE CASCADE;
