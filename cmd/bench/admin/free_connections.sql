-- How many more connections the server accepts now: pgbench's clients are capped at this (less a
-- margin), since one connection per client is how pgbench works.
SELECT current_setting('max_connections')::int
     - current_setting('superuser_reserved_connections')::int
     - (SELECT count(*) FROM pg_stat_activity)::int
