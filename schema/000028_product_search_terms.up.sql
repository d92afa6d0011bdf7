-- The product search's names and SKUs move to a table of their own, outside row-level security, so
-- that the planner may read their statistics on every database.
--
-- A `q` search has two good plans: the trigram indexes for a rare term, or a walk along the list's
-- own order, testing each row, for a common one; the planner picks by the term's estimated share
-- of names. Under row-level security it may read a column's statistics only for leakproof
-- operators, and ILIKE is leakproof only where a superuser ran 000004. Everywhere else (managed
-- PostgreSQL, the tests, CI) every term looked rare, and a common one read all its matches by id
-- before sorting them: `q=brass` on the bench catalog, 40 ms of execution, 63/s in pgbench
-- against 312/s with this table (bench/README.md, "The searches' plan on every database"). This
-- table has no row-level security, so the planner reads its statistics whatever the operator, and
-- both kinds of database now plan alike.
--
-- Tenancy holds as before (docs/tenancy.md):
-- - the application's role has no right on this table (app_role_ensure below takes back what its
--   grant on every table gives); it reads it only through product_search, which restricts to the
--   brand the transaction is scoped to, and may not write through that view;
-- - the search still takes only ids from it (ProductSearch: `id IN (SELECT search_id FROM
--   product_search ...)`) and reads the rows from products under its policy, so a wrong id here
--   could never return another brand's product;
-- - a trigger keeps it, as the tables' owner (SECURITY DEFINER): a row here is written only by a
--   write to products, which the brands' policies check.
-- The view no longer reads products, so the role 000021 made to own it, its policy on products and
-- the function that set them up at every start are gone.
CREATE TABLE product_search_terms (
  brand_id uuid NOT NULL,
  id       uuid NOT NULL,
  name     text NOT NULL,
  sku      text NOT NULL,
  PRIMARY KEY (brand_id, id),
  FOREIGN KEY (brand_id, id) REFERENCES products (brand_id, id) ON DELETE CASCADE
);
-- 000027's reasoning, moved with the column: with 400 histogram entries a term in one name in a
-- thousand almost never looks common enough to walk the brand.
ALTER TABLE product_search_terms ALTER COLUMN name SET STATISTICS 400;
ALTER TABLE products ALTER COLUMN name SET STATISTICS -1;

-- New products in one statement (the bulk upsert and CSV imports insert thousands at once).
CREATE FUNCTION product_search_terms_added() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  INSERT INTO product_search_terms (brand_id, id, name, sku)
  SELECT brand_id, id, name, sku FROM added;
  RETURN NULL;
END
$$;
-- A renamed product, or a new SKU; the trigger's WHEN spares every other update the call.
CREATE FUNCTION product_search_terms_changed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  UPDATE product_search_terms SET name = NEW.name, sku = NEW.sku
  WHERE brand_id = NEW.brand_id AND id = NEW.id;
  RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION product_search_terms_added() FROM PUBLIC;
REVOKE ALL ON FUNCTION product_search_terms_changed() FROM PUBLIC;
CREATE TRIGGER product_search_terms_added AFTER INSERT ON products
  REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION product_search_terms_added();
CREATE TRIGGER product_search_terms_changed AFTER UPDATE OF name, sku ON products
  FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.sku IS DISTINCT FROM NEW.sku)
  EXECUTE FUNCTION product_search_terms_changed();
-- (A deleted product's row goes with it: the foreign key cascades.)

-- The triggers came first: their lock on products holds writes back until this migration commits,
-- so no product is written between the copy and them. The copy reads every brand's products, and
-- the tables' owner is under the brands' policies like everyone else (FORCE): it lifts that for
-- the copy alone, inside this migration's transaction (a superuser reads every row anyway).
ALTER TABLE products NO FORCE ROW LEVEL SECURITY;
INSERT INTO product_search_terms (brand_id, id, name, sku) SELECT brand_id, id, name, sku FROM products;
ALTER TABLE products FORCE ROW LEVEL SECURITY;

-- The trigram indexes move too: nothing else searches products by pattern.
DROP INDEX products_name_trgm_idx;
DROP INDEX products_sku_trgm_idx;
CREATE INDEX product_search_terms_name_trgm_idx ON product_search_terms USING gin (name gin_trgm_ops);
CREATE INDEX product_search_terms_sku_trgm_idx ON product_search_terms USING gin (sku gin_trgm_ops);

-- The view, now over the new table and owned by the tables' owner. The old one's owner is the
-- search role where product_search_ensure ran; the schema's owner (on managed PostgreSQL, the
-- database's owner, who migrates) may drop it, and any other login takes membership of that role
-- for the statement, as product_search_ensure did.
DO $$
DECLARE
  owner name := (SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass('product_search'));
  schema_owner name := (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = current_schema());
BEGIN
  IF owner IS NOT NULL AND NOT pg_has_role(current_user, owner, 'USAGE')
     AND NOT pg_has_role(current_user, schema_owner, 'USAGE') THEN
    EXECUTE format('GRANT %I TO %I', owner, current_user);
  END IF;
END
$$;
DROP VIEW IF EXISTS product_search;
DO $$
DECLARE search_roles name[] := (SELECT roles FROM pg_policies
                                WHERE schemaname = current_schema() AND tablename = 'products'
                                  AND policyname = 'product_search_reads');
BEGIN
  FOR i IN 1..coalesce(array_length(search_roles, 1), 0) LOOP
    EXECUTE format('REVOKE ALL ON TABLE products FROM %I', search_roles[i]);
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)
       AND pg_has_role(current_user, search_roles[i], 'MEMBER') THEN
      EXECUTE format('REVOKE %I FROM %I', search_roles[i], current_user);
    END IF;
  END LOOP;
END
$$;
DROP POLICY IF EXISTS product_search_reads ON products;
DROP FUNCTION IF EXISTS product_search_ensure(text);
-- The search role itself is cluster-wide and may still own another database's view (one not yet
-- migrated this far): it is left, NOLOGIN and with no right here.

-- Not a security barrier, as before: the only conditions pushed into its scan are the search's
-- own, and ILIKE raises no error that depends on a row.
CREATE VIEW product_search AS
SELECT id AS search_id, name AS search_name, sku AS search_sku
FROM product_search_terms
WHERE brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid);

-- As 000006's, and then: no right on the search table, and the search view read-only (a simple
-- view is updatable, and would write into the table for any brand).
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
  EXECUTE format('REVOKE ALL ON TABLE product_search_terms FROM %I', role_name);
  EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON TABLE product_search FROM %I', role_name);
END
$$;

ANALYZE product_search_terms;
