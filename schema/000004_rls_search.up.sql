-- Two things row-level security costs the catalog, mended.
--
-- 1. The policy read app.brand_id and parsed it as a uuid once per row it looked at. As a scalar
--    subquery it is computed once per statement (an InitPlan), and is still usable in index
--    conditions.
ALTER POLICY brand_isolation ON products
  USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
  WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid));
ALTER POLICY brand_isolation ON invitations
  USING (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid))
  WITH CHECK (brand_id = (SELECT nullif(current_setting('app.brand_id', true), '')::uuid));

-- 2. Under row-level security PostgreSQL only lets an index evaluate operators marked LEAKPROOF
--    before the policy has filtered the row, and ILIKE (texticlike) is not marked so. The product
--    search's trigram indexes were therefore never used: a rare term scanned the whole brand.
--    texticlike raises no error that depends on the row's value (only a malformed pattern, which is
--    the query's own text), so it cannot leak a row it was not allowed to see; marking it leakproof
--    is safe. Only a superuser may: when the migrating login is not one, the search stays correct
--    but unindexed, and the server says so in its log at start-up.
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION pg_catalog.texticlike(text, text) LEAKPROOF;
  ELSE
    RAISE NOTICE 'not a superuser: texticlike stays non-leakproof, product search will not use its trigram indexes';
  END IF;
END
$$;
