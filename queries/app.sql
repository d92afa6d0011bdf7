-- name: AppRoleEnsure :exec
-- Creates the application role when missing and grants it what request statements need.
SELECT app_role_ensure(@role_name::text);

-- name: BrandScopeSet :exec
-- Scopes the current transaction to one brand: row-level security shows only its rows, and
-- refuses to write any other brand's.
SELECT set_config('app.brand_id', @brand_id::text, true);
