-- name: EnumTypes :many
-- The application's enum types as this database numbers them, for each connection's type map
-- (server/pgtypes.go): an enum's OID is given when its migration runs, so it differs from one
-- database to the next. river's own river_job_state is left out: the job queue shares the pool
-- constructor and scans its states through its own types, as it always has.
SELECT t.oid, t.typname::text AS name
FROM pg_catalog.pg_type t
JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
WHERE t.typtype = 'e'
  AND n.nspname = ANY (current_schemas(false))
  AND t.typname <> 'river_job_state'
ORDER BY t.typname;
