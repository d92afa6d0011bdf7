-- The live sessions, numbered from 1: pgbench picks session n at random with `\set` (it can only
-- draw numbers) and reads its ids here.
CREATE TABLE bench_sessions AS
SELECT (row_number() OVER (ORDER BY id))::int AS n, id AS session_id, user_id
FROM sessions
WHERE revoked_at IS NULL;
