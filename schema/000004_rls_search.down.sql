DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION pg_catalog.texticlike(text, text) NOT LEAKPROOF;
  END IF;
END
$$;
ALTER POLICY brand_isolation ON invitations
  USING (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid)
  WITH CHECK (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid);
ALTER POLICY brand_isolation ON products
  USING (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid)
  WITH CHECK (brand_id = nullif(current_setting('app.brand_id', true), '')::uuid);
