-- name: AppRoleEnsure :exec
-- Creates the application role when missing and grants it what request statements need.
SELECT app_role_ensure(@role_name::text);

-- name: BrandScopeSet :exec
-- Scopes the current transaction to one brand: row-level security shows only its rows, and
-- refuses to write any other brand's.
SELECT set_config('app.brand_id', @brand_id::text, true);

-- name: BrandScopeSetReadOnly :exec
-- Scopes the current transaction to one brand, as BrandScopeSet does, and makes it read-only: a
-- single-statement read (kit.ReadInBrand) is committed as soon as its statement ends, whatever its
-- caller then decides, so it must not be able to write anything.
SELECT set_config('app.brand_id', @brand_id::text, true), set_config('transaction_read_only', 'on', true);

-- name: BrandScopeSetList :exec
-- BrandScopeSetReadOnly for a list (kit.ListInBrand), whose read is also planned for its own
-- parameters (plan_cache_mode): a list's optional filters and search pattern are parameters, and
-- the generic plan PostgreSQL switches a prepared statement to cannot use an index for a value it
-- has not seen (in the full load run a rare `q` fell from a trigram index scan to 57 ms of
-- scanning; custom plans also made the plain list 31% and a common search 52% faster).
SELECT set_config('app.brand_id', @brand_id::text, true), set_config('transaction_read_only', 'on', true),
       set_config('plan_cache_mode', 'force_custom_plan', true);

-- name: SessionSettings :one
-- What a pooled connection runs as: behind a transaction pooler (DATABASE_POOLER=pgbouncer) the
-- role and the NATS flag come from the pooler login's role defaults, not from start-up
-- parameters, and the server checks them before it serves.
SELECT current_user::text AS role_name,
       coalesce(current_setting('ecompointer.nats_publish', true), '')::text AS nats_publish;

-- name: TxCommit :exec
-- Commits the current transaction. Only kit's brand-scoped transaction sends it, in one pipeline
-- with a statement that waited for the COMMIT (kit.SendWithCommit); every other transaction
-- commits through pgx.
COMMIT;
